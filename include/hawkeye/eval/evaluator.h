// Evaluating an IQA model on a manifest with the standard protocol of IQA papers: score every image,
// map the manifest's opinion scores onto [1, 5], then SRCC, KRCC, PLCC and RMSE on the raw predictions and
// PLCC and RMSE after the 4-parameter logistic fit (metrics/correlation.h), overall and per distortion type;
// with KADID type ids, how often the reasoning names the right distortion family (reasoning_family.h).
//
//   auto model = model::IqaModel::load("hawkeye-tiny");
//   eval::EvalOptions o;  o.score = model::default_score_options(model, 0, seed);
//   o.predictions = "out/predictions.jsonl";               // written as it goes; o.resume continues it
//   eval::EvalReport r = eval::evaluate(model, read_manifest("test.jsonl"), o);
//   eval::write_eval_outputs("out", r);                    // report.json + scatter.png
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "hawkeye/core/lock.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/eval/reasoning_family.h"
#include "hawkeye/image/io.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/model/scoring.h"

namespace hawkeye::eval {

struct EvalOptions {
  model::ScoreOptions score;          // greedy or K samples (default_score_options of the model)
  std::int64_t batch = 16;
  int loader_threads = 2;
  ImageLimits limits;
  std::int64_t max_images = 0;        // > 0: only the first N rows of the manifest (in file order)
  std::filesystem::path predictions;  // predictions.jsonl, one line per image, flushed as it goes ("" = none)
  bool resume = false;                // keep the images already in `predictions`, score only the others
  CorrelationOptions correlation;     // logistic fit and bootstrap settings
  const std::atomic<bool>* stop = nullptr;                  // true: stop after the current batch
  std::function<void(std::size_t done, std::size_t total)> on_progress;  // after every image
  ThreadGovernor* threads = nullptr;  // when set, the thread count follows the machine's load (batch_scoring.h)
};

// One evaluated image.
struct Prediction {
  std::string image;       // the manifest's image field (the key of predictions.jsonl)
  double label = kNaN;     // opinion score mapped onto [1, 5], 5 = best
  std::string type;        // distortion type ("" when the manifest has none)
  int type_id = 0;         // KADID type id 1..25 from the manifest's "type_id" (0 when absent or out of range)
  int level = 0;           // the manifest's "level" 1..5 (0 when absent or out of range)
  std::string reasoning;   // the text inside <think>…</think> of the (first) answer
  double score = kNaN;     // the model's score; NaN when it failed to load or to parse
  std::optional<ScoreStatus> status;  // ok, why there is no score, or none yet (a row not reached when stopped)
  double std = kNaN;       // spread of the K sampled scores (K >= 2)
  std::int64_t tokens = 0;
  bool resumed = false;    // taken from an earlier run's predictions.jsonl
};

struct TypeBreakdown {
  std::string type;
  std::size_t rows = 0, n = 0, parse_failures = 0, load_failures = 0;
  Statistic srcc, krcc, plcc;          // on the raw predictions of this type
  Statistic plcc_fitted, rmse_fitted;  // after the overall logistic mapping (not refitted per type)
};

struct EvalReport {
  ordered_json model;          // model_json()
  ordered_json sampling;       // sampling_json()
  std::string device;
  std::string data_path;       // the manifest file
  std::size_t data_rows = 0;   // rows in the manifest
  std::size_t evaluated_rows = 0;  // rows taken (max_images)
  std::string data_form, score_name, scale;
  std::string type_column;     // "type_name", "type" or "" (no per-type breakdown)
  std::string protocol;        // the protocol in words
  std::size_t parse_failures = 0, load_failures = 0, resumed_rows = 0;
  CorrelationReport correlation;   // over the images with a score
  std::vector<TypeBreakdown> per_type;
  // Whether the reasoning names the right distortion family; only when some evaluated row has a type_id.
  std::optional<ReasoningFamilyTally> reasoning;
  double mean_sample_std = kNaN;   // mean over images of the std of their K scores (K >= 2)
  double seconds = 0;              // wall time of this run's scoring
  std::size_t images_this_run = 0; // images read (and, when they loaded, scored) in this run
  double tokens_per_image = kNaN;
  double model_load_seconds = kNaN;  // set by the caller when it timed the load
  bool complete = true;            // false when stopped before the last row
  std::vector<Prediction> predictions;  // manifest order
  double images_per_second() const { return seconds > 0 ? images_this_run / seconds : kNaN; }
  ordered_json to_json() const;     // report.json (docs/evaluation.md)
};

// Runs the model over the manifest. With options.predictions set, writes its first line (the run: model,
// data, sampling) and then one line per image, flushed, in manifest order; with options.resume, an existing
// file must come from the same model, data and sampling (Error(invalid_argument) naming what differs), its
// images are not scored again, and a torn last line (a crash while writing) is dropped.
// Errors: not_found/model from the model, io when the predictions file cannot be written.
EvalReport evaluate(model::IqaModel& model, const Manifest& manifest, const EvalOptions& options);

// Takes an evaluation's output folder (created when missing) for this process: its lock (Error(in_use) while
// another evaluation writes there), stale temporaries removed, and Error(invalid_argument) when it already holds
// predictions.jsonl and `resume` is false. The folder stays locked while the returned lock lives.
PathLock open_eval_folder(const std::filesystem::path& dir, bool resume);

// Writes report.json and scatter.png (width x height pixels) into dir (created if needed).
void write_eval_outputs(const std::filesystem::path& dir, const EvalReport& report, int width = 960, int height = 640);

// The scatter plot's title: model id, the data set by its folder and file ("live-set/test.jsonl"), SRCC, the
// PLCC named as fitted (or "PLCC … (fit failed)") and n.
std::string scatter_title(const EvalReport& report);

}  // namespace hawkeye::eval
