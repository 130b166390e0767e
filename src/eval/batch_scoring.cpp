#include "hawkeye/eval/batch_scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <future>
#include <memory>

#include <ATen/Parallel.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/version.h"
#include "hawkeye/model/runtime.h"

namespace hawkeye::eval {

namespace fs = std::filesystem;

namespace {

struct LoadedImage {
  Image image;
  std::string error;  // non-empty: the load failed
  ErrorCode code = ErrorCode::internal;
};

// Decodes paths[first, last) on up to `threads` threads.
std::vector<LoadedImage> load_range(const std::vector<fs::path>& paths, std::size_t first, std::size_t last, int threads,
                                    const ImageLimits& limits) {
  std::vector<LoadedImage> out(last - first);
  // Every image gets its slot: an error is that image's, never the batch's.
  parallel_for(last - first, std::max(1, threads), [&](std::size_t k, int) {
    const std::size_t i = first + k;
    auto& slot = out[k];
    try {
      slot.image = load_image(paths[i], limits);
    } catch (const Error& e) {
      slot.error = e.what();
      slot.code = e.code();
    } catch (const std::bad_alloc&) {
      slot.error = paths[i].string() + ": out of memory while decoding";
      slot.code = ErrorCode::limit_exceeded;
    } catch (const std::exception& e) {
      slot.error = paths[i].string() + ": " + e.what();  // the decoder's own exceptions (OpenCV)
      slot.code = ErrorCode::corrupt_data;
    }
  });
  return out;
}

// One batch on its way through the pipeline: decoded images, the ones the model scores, and (once started) their
// encoding. `encoding` is declared last so that it is destroyed (waited for) before the images it reads.
struct PendingBatch {
  std::size_t first = 0;
  std::vector<LoadedImage> loaded;
  std::vector<const Image*> ptrs;  // the images that loaded, in order
  std::vector<std::string> ids;
  std::unique_ptr<model::SharedEncoding> encoding;
};

}  // namespace

BatchScoringSummary score_files(model::IqaModel& model, const std::vector<fs::path>& paths,
                                const std::vector<std::string>& identities, const BatchScoringOptions& options,
                                const std::function<void(const ScoredImage&)>& on_image) {
  if (options.batch <= 0) throw Error(ErrorCode::invalid_argument, "batch size must be positive");
  model::check_score_options(model, options.score);
  if (!identities.empty() && identities.size() != paths.size()) {
    throw Error(ErrorCode::invalid_argument, "score_files: one identity per path is required");
  }
  const auto t0 = std::chrono::steady_clock::now();
  BatchScoringSummary summary;
  const std::size_t n = paths.size();
  const auto B = static_cast<std::size_t>(options.batch);
  ImageLimits limits = options.limits;
  if (limits.max_aspect_ratio <= 0) limits.max_aspect_ratio = model.policy().max_aspect_ratio();
  auto start_loading = [&](std::size_t first) {
    const std::size_t last = std::min(n, first + B);
    return std::async(std::launch::async, [&paths, first, last, threads = options.loader_threads, limits] {
      return load_range(paths, first, last, threads, limits);
    });
  };
  std::future<std::vector<LoadedImage>> loading;  // the batch after the newest one taken
  std::size_t next_to_load = 0;
  if (n > 0) {
    loading = start_loading(0);
    next_to_load = B;
  }
  // The next loaded batch: waits for the loader and starts loading the one after it.
  auto take_loaded = [&](PendingBatch& b) {
    const auto t_wait = std::chrono::steady_clock::now();
    b.first = next_to_load - B;
    b.loaded = loading.get();
    summary.load_wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_wait).count();
    if (next_to_load < n) {
      loading = start_loading(next_to_load);
      next_to_load += B;
    }
    for (std::size_t k = 0; k < b.loaded.size(); ++k) {
      if (!b.loaded[k].error.empty()) continue;
      b.ptrs.push_back(&b.loaded[k].image);
      b.ids.push_back(identities.empty() ? paths[b.first + k].string() : identities[b.first + k]);
    }
  };
  // A model whose language part generates on one core (hawkeye-tiny) leaves the other cores idle while it decodes.
  // With more than one thread its images are encoded one per core from a shared queue (model::SharedEncoding), and
  // the next batch's encoding starts on threads - 1 cores before this batch generates; the generating thread joins
  // it when done. So scoring never runs more threads than its count, and an image's encoding does not depend on
  // it. Larger models encode each batch in turn with every thread.
  const bool shared_encoding = model::generates_on_one_core(model);
  std::unique_ptr<PendingBatch> ahead;  // the next batch, loaded, its encoding started
  for (std::size_t first = 0; first < n; first += B) {
    std::unique_ptr<PendingBatch> cur = std::move(ahead);
    if (!cur) {
      cur = std::make_unique<PendingBatch>();
      take_loaded(*cur);
    }
    if (options.threads && !cur->ptrs.empty()) {
      const int t = options.threads->update();
      summary.fewest_threads = summary.fewest_threads == 0 ? t : std::min(summary.fewest_threads, t);
      summary.most_threads = std::max(summary.most_threads, t);
    }
    const int threads = at::get_num_threads();
    model::EncodedImages encoded;
    if (cur->encoding) {
      encoded = cur->encoding->finish();
    } else if (!cur->ptrs.empty()) {
      encoded = shared_encoding && threads > 1 ? model::SharedEncoding(model, cur->ptrs, threads - 1).finish()
                                               : model::encode_for_scoring(model, cur->ptrs);
    }
    const bool stopping = options.stop && options.stop->load();
    if (shared_encoding && threads > 1 && first + B < n && !stopping) {
      ahead = std::make_unique<PendingBatch>();
      take_loaded(*ahead);
      if (!ahead->ptrs.empty()) {
        ++summary.encoded_ahead;
        ahead->encoding = std::make_unique<model::SharedEncoding>(model, ahead->ptrs, threads - 1);
      }
    }
    model::GenerationStats& stats = summary.model;
    const std::int64_t tokens_before = stats.generated_tokens;
    std::vector<model::ImageScore> scores;
    if (!cur->ptrs.empty()) scores = model::score_encoded(model, cur->ptrs, std::move(encoded), options.score, cur->ids, &stats);
    summary.generated_tokens += stats.generated_tokens - tokens_before;
    const auto t_out = std::chrono::steady_clock::now();
    std::size_t next_score = 0;
    for (std::size_t k = 0; k < cur->loaded.size(); ++k) {
      ScoredImage r;
      r.index = cur->first + k;
      r.path = paths[cur->first + k];
      auto& slot = cur->loaded[k];
      if (!slot.error.empty()) {
        r.status = ScoreStatus::load_error;
        r.error = slot.error;
        r.error_code = slot.code;
        ++summary.load_failures;
      } else {
        r.result = std::move(scores[next_score++]);
        r.status = r.result.status;
        if (r.scored()) ++summary.scored;
        else ++summary.parse_failures;
      }
      ++summary.images;
      on_image(r);
    }
    summary.output_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_out).count();
    if (options.stop && options.stop->load() && first + B < n) {
      summary.stopped = true;
      break;  // `loading` and `ahead` finish their batches and are discarded
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

ordered_json image_record(const ScoredImage& image, const model::IqaContract& contract, std::int64_t samples,
                          const RecordFields& fields) {
  const auto& s = image.result;
  ordered_json j;
  j["path"] = image.path.string();
  j["score"] = image.scored() ? ordered_json(s.score) : ordered_json(nullptr);
  j["range"] = {contract.score_min, contract.score_max};
  j["direction"] = contract.higher_is_better ? "higher_is_better" : "lower_is_better";
  if (fields.reasoning) j["reasoning"] = image.load_failed() ? ordered_json(nullptr) : ordered_json(s.reasoning);
  // The raw answer is kept whenever it did not parse: the user sees what the model wrote.
  if (!image.load_failed() && (fields.completion || !image.scored())) j["completion"] = s.completion;
  if (fields.answer && samples == 0 && !image.load_failed()) {
    j["answer"] = std::isfinite(s.answer) ? ordered_json(s.answer) : ordered_json(nullptr);
  }
  j["status"] = score_status_name(image.status);
  if (image.load_failed()) j["error"] = image.error;
  if (samples > 0) {
    ordered_json k = ordered_json::array();
    for (double v : s.samples) k.push_back(std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr));
    j["samples"] = std::move(k);
    j["mean"] = image.scored() ? ordered_json(s.score) : ordered_json(nullptr);
    j["std"] = std::isfinite(s.std) ? ordered_json(s.std) : ordered_json(nullptr);
    j["parsed"] = s.parsed;
  }
  if (!image.load_failed()) j["tokens"] = s.tokens;
  return j;
}

ordered_json versions_json() {
  ordered_json j;
  j["hawkeye"] = version();
  j["git"] = git_revision();
  j["libtorch"] = torch_version();
  return j;
}

ordered_json sampling_json(const model::ScoreOptions& o) {
  ordered_json j;
  j["mode"] = o.samples > 0 ? "sampled" : "greedy";
  j["samples"] = o.samples;
  j["max_new_tokens"] = o.sampling.max_new_tokens;
  if (o.readout != model::Readout::answer) j["readout"] = model::readout_name(o.readout);
  if (o.samples > 0) {
    j["temperature"] = o.sampling.temperature;
    j["top_k"] = o.sampling.top_k;
    j["top_p"] = o.sampling.top_p;
    j["seed"] = o.seed;
  }
  return j;
}

ordered_json model_json(const model::IqaModel& m) {
  ordered_json j;
  j["id"] = m.id();
  j["path"] = fs::absolute(m.dir().dir).lexically_normal().string();
  j["architecture"] = m.dir().architecture;
  j["parameters"] = m.policy().parameter_count();
  j["range"] = {m.contract().score_min, m.contract().score_max};
  j["direction"] = m.contract().higher_is_better ? "higher_is_better" : "lower_is_better";
  return j;
}

}  // namespace hawkeye::eval
