// Scoring images with an IQA model: greedy (the default: the same image always gets the same score) or
// K sampled answers per image (their mean, and their spread as the model's own uncertainty — the quantity
// UADO uses in training). A parse failure is reported, never replaced by a guess.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hawkeye/image/image.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/text/answer.h"

namespace hawkeye::model {

// How a greedy answer becomes the score.
enum class Readout {
  answer,    // the number the answer writes (the default)
  // The expected value of the answer's number under the model's own distribution over its digits, after the
  // greedy reasoning (as Q-Align reads a score out of level probabilities): the first digit over the integers
  // of the score range, then "." and the first decimal (expectation over 0-9), then the second decimal
  // (expectation over 0-9 after the most likely first decimal); each branch clamped to the range.
  // Deterministic, greedy only, needs single-token digits. Where the greedy answer has no "<answer>" followed
  // by a digit, the greedy status (a parse failure) stands.
  expected,
  // The vision tower's auxiliary-head score of the image (hawkeye-tiny with vision_config.aux_head), clamped to
  // the score range: what the encoder itself estimates, the signal the language model's answer is trained to
  // read. The greedy reasoning is still written; the answer's own number is kept as `answer` (NaN when it did
  // not parse). Every image's status is ok: the answer's parse status does not apply to the score (so an
  // evaluation's parse_failures is 0). Greedy only; a model without an auxiliary head is refused
  // (invalid_argument, before any image is read: check_score_options); a non-finite head score is an Error(model).
  head,
};
std::string_view readout_name(Readout r);
// "answer", "expected" or "head"; Error(invalid_argument) naming them otherwise.
Readout readout_from_name(std::string_view name);

struct ScoreOptions {
  std::int64_t samples = 0;          // 0 = greedy; K > 0 = K sampled answers per image
  Readout readout = Readout::answer; // greedy only (expected with samples > 0 is an invalid_argument)
  SamplingParams sampling;           // temperature/top-k/top-p/max_new_tokens for sampling (greedy: max_new_tokens)
  std::uint64_t seed = 0;            // run seed; image i's answers use derive_seed(seed, image identity)
};

// Scoring settings of a run, with the model's defaults filled in.
ScoreOptions default_score_options(const IqaModel& model, std::int64_t samples, std::uint64_t seed);
// Error(invalid_argument) when the options cannot score with this model: a readout other than answer with
// samples, or readout head for a model without an auxiliary head. Scoring, batch scoring and evaluate() call it
// before any work or output; a caller that writes something first (a header) calls it itself.
void check_score_options(const IqaModel& model, const ScoreOptions& options);

struct ImageScore {
  double score = std::numeric_limits<double>::quiet_NaN();  // greedy: the parsed answer (or its expected value,
                                                            // Readout::expected); K samples: mean of the parsed ones
  double answer = std::numeric_limits<double>::quiet_NaN(); // greedy: the number the answer writes
  // ok; greedy: why the answer gave no score (read strictly, a number outside the model's range is
  // out_of_range); K samples: no_answer_parsed when none of the K answers gave a score
  ScoreStatus status = ScoreStatus::ok;
  std::string reasoning;          // the text inside <think>…</think> of the (first) answer
  std::string completion;         // the whole (first) answer
  std::vector<double> samples;    // K sampled scores (NaN = no score: a parse failure or out of range)
  double std = std::numeric_limits<double>::quiet_NaN();     // population std of the parsed samples (K >= 2)
  std::int64_t parsed = 0;        // answers that gave a score
  std::int64_t tokens = 0;        // tokens generated for this image
};

// Scores a batch of images in one pass (images encoded once, prompts prefilled once, K samples per image
// from an expanded cache). `identities` seed the samples per image (e.g. file paths); empty = batch index.
// The same as score_encoded(model, images, encode_for_scoring(model, images), ...).
std::vector<ImageScore> score_images(IqaModel& model, const std::vector<const Image*>& images, const ScoreOptions& options,
                                     const std::vector<std::string>& identities = {}, GenerationStats* stats = nullptr);

// The two halves of score_images, for callers that encode one batch while another generates (eval::score_files).
// encode_for_scoring preprocesses and encodes `images` as scoring does (no gradients, the vision tower's inference
// graph: hawkeye/model/mobilenet.h); it may run on another thread than score_encoded, as long as no other thread
// encodes with the same model at the same time. score_encoded generates and reads the answers of those images.
struct EncodedImages {
  VisualEmbeds visuals;
  std::size_t images = 0;  // how many images were encoded (checked by score_encoded)
  double preprocess_seconds = 0, encode_seconds = 0;
};
EncodedImages encode_for_scoring(IqaModel& model, const std::vector<const Image*>& images);
std::vector<ImageScore> score_encoded(IqaModel& model, const std::vector<const Image*>& images, EncodedImages encoded,
                                      const ScoreOptions& options, const std::vector<std::string>& identities = {},
                                      GenerationStats* stats = nullptr);

// Whether score_encoded generates on one core when the caller has more: a language model this small (hawkeye-tiny)
// decodes faster on one core, so the others are free to encode the next batch meanwhile.
bool generates_on_one_core(IqaModel& model);

// Encodes images one at a time, each alone on one core, from one shared queue: `background` threads of its own
// start at once, and the thread that calls finish() joins them on what is left. So a caller can start the next
// batch's encoding on the cores its generation leaves free (background = threads - 1) and help once it is done,
// without ever running more threads than it was given. Each image's encoding is what it gets alone
// (encode_for_scoring of that one image), whatever the thread count. For models that generate on one core
// (generates_on_one_core). The destructor stops the queue and waits for the background threads.
class SharedEncoding {
 public:
  SharedEncoding(IqaModel& model, std::vector<const Image*> images, int background);
  ~SharedEncoding();
  SharedEncoding(const SharedEncoding&) = delete;
  SharedEncoding& operator=(const SharedEncoding&) = delete;
  // Encodes what is left on the calling thread, waits for the others and returns every image's encoding, in
  // order (preprocess_seconds and encode_seconds: the images' times summed over the threads that took part,
  // divided by their number). The first error of any image is rethrown. Call it once.
  EncodedImages finish();

 private:
  void work(bool caller);
  IqaModel& model_;
  std::vector<const Image*> images_;
  std::vector<EncodedImages> parts_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> participants_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
  bool finished_ = false;
};

// The position in `tokens` of the first digit token (one of `digit_ids`) that follows the first "<answer>" (any
// letter case) with only whitespace between them; -1 when there is none. Digits before the tag (the reasoning's
// "8x8 blocks") are skipped. Readout::expected reads the distribution at that position; exposed for tests.
std::int64_t answer_number_start(const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& digit_ids,
                                 const Detokenizer& decode);

// The text between the first <think> and the following </think> (whitespace trimmed), "" when absent.
std::string extract_reasoning(std::string_view completion);

}  // namespace hawkeye::model
