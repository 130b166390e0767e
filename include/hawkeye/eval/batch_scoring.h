// Scoring many image files with one loaded model: a small pipeline in which the next batch is decoded on
// loader threads while the model scores the current one (and, for a small language model on more than one thread,
// encoded by the vision tower while the current one generates), and every image's result is handed back in input
// order as soon as its batch is done. A file that cannot be read or decoded becomes a "load_error" result
// (with the message), never a crash and never a score. Used by `hawkeye score` and `hawkeye eval`.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/io.h"
#include "hawkeye/model/scoring.h"

namespace hawkeye {
class ThreadGovernor;
}

namespace hawkeye::eval {

// One image of a scoring run.
struct ScoredImage {
  std::size_t index = 0;        // position in the input list
  std::filesystem::path path;
  // ok (a score), why the greedy answer gave none (no_answer_tag, not_a_number, out_of_range, ...),
  // no_answer_parsed (none of K samples gave a score) or load_error (the file could not be read or decoded).
  ScoreStatus status = ScoreStatus::ok;
  std::string error;            // load_error: what went wrong, naming the file
  ErrorCode error_code = ErrorCode::internal;  // load_error: its kind (not_found, corrupt_data, limit_exceeded, ...)
  model::ImageScore result;     // the model's answer (empty for load errors)
  bool scored() const { return status == ScoreStatus::ok; }
  bool load_failed() const { return status == ScoreStatus::load_error; }
};

struct BatchScoringOptions {
  model::ScoreOptions score;    // greedy or K samples, max new tokens, seed (see default_score_options)
  std::int64_t batch = 16;      // images per score_images call
  int loader_threads = 2;       // threads decoding the next batch while the model works
  ImageLimits limits;
  const std::atomic<bool>* stop = nullptr;  // when set to true, the run ends after the current batch
  // When set, the model's thread count follows the machine's load: update() before each batch (model/runtime.h).
  ThreadGovernor* threads = nullptr;
};

struct BatchScoringSummary {
  std::size_t images = 0;          // results handed back (fewer than the inputs when stopped)
  std::size_t scored = 0;          // status ok
  std::size_t load_failures = 0;
  std::size_t parse_failures = 0;  // loaded, but no score
  std::int64_t generated_tokens = 0;
  double seconds = 0;              // wall time of the whole run (loading overlapped with scoring)
  // Where the time went: waiting for the loader thread (image reading and decoding that did not overlap
  // with the model), the model's parts (preprocess, vision tower, prefill, decoding steps, sampling), and the
  // caller's on_image (writing the records). With a model that generates on one core (model::generates_on_one_core)
  // and more than one thread, the next batch's preprocessing and vision run while this one generates, so their
  // seconds overlap the others' and the parts add up to more than the wall time.
  double load_wait_seconds = 0, output_seconds = 0;
  model::GenerationStats model;
  int fewest_threads = 0, most_threads = 0;  // the model's thread counts over the batches (governor only)
  std::size_t encoded_ahead = 0;   // batches encoded while the batch before them generated
  bool stopped = false;
  double images_per_second() const { return seconds > 0 ? images / seconds : 0.0; }
};

// Scores `paths` in order. `identities` (one per path, or empty = the path strings) seed the samples of
// each image, so an image's answers do not depend on its batch. on_image is called once per image, in
// input order, on the calling thread. Model errors propagate (hawkeye::Error).
BatchScoringSummary score_files(model::IqaModel& model, const std::vector<std::filesystem::path>& paths,
                                const std::vector<std::string>& identities, const BatchScoringOptions& options,
                                const std::function<void(const ScoredImage&)>& on_image);

// Which optional fields an image record carries.
struct RecordFields {
  bool reasoning = true;       // "reasoning"
  bool completion = false;     // "completion" always (it is written anyway when the answer did not parse)
  bool answer = false;         // "answer": the number the greedy answer writes (null when none), beside a
                               // score read out otherwise (model::Readout::expected)
};

// The output record of one image (docs/cli.md, `hawkeye score`): path, score (null when none), range,
// direction, reasoning, [completion], [answer], status, [error], and with K samples: samples, mean, std, parsed; tokens.
ordered_json image_record(const ScoredImage& image, const model::IqaContract& contract, std::int64_t samples,
                          const RecordFields& fields = {});

// {"hawkeye": version, "git": revision, "libtorch": version}
ordered_json versions_json();
// {"mode": "greedy"|"sampled", "samples": K, "max_new_tokens", and for K > 0 "temperature", "top_k", "top_p", "seed"}
ordered_json sampling_json(const model::ScoreOptions& options);
// {"id", "path", "architecture", "parameters", "range", "direction"}
ordered_json model_json(const model::IqaModel& model);

}  // namespace hawkeye::eval
