#include "hawkeye/eval/batch_scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <future>

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

}  // namespace

BatchScoringSummary score_files(model::IqaModel& model, const std::vector<fs::path>& paths,
                                const std::vector<std::string>& identities, const BatchScoringOptions& options,
                                const std::function<void(const ScoredImage&)>& on_image) {
  if (options.batch <= 0) throw Error(ErrorCode::invalid_argument, "batch size must be positive");
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
  std::future<std::vector<LoadedImage>> pending;
  if (n > 0) pending = start_loading(0);
  for (std::size_t first = 0; first < n; first += B) {
    const auto t_wait = std::chrono::steady_clock::now();
    std::vector<LoadedImage> loaded = pending.get();
    summary.load_wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_wait).count();
    // The next batch decodes while the model works on this one.
    if (first + B < n) pending = start_loading(first + B);
    std::vector<const Image*> ptrs;
    std::vector<std::string> ids;
    std::vector<std::size_t> where;  // index in `loaded` of each scored image
    for (std::size_t k = 0; k < loaded.size(); ++k) {
      if (!loaded[k].error.empty()) continue;
      ptrs.push_back(&loaded[k].image);
      ids.push_back(identities.empty() ? paths[first + k].string() : identities[first + k]);
      where.push_back(k);
    }
    model::GenerationStats& stats = summary.model;
    const std::int64_t tokens_before = stats.generated_tokens;
    std::vector<model::ImageScore> scores;
    if (options.threads && !ptrs.empty()) {
      const int t = options.threads->update();
      summary.fewest_threads = summary.fewest_threads == 0 ? t : std::min(summary.fewest_threads, t);
      summary.most_threads = std::max(summary.most_threads, t);
    }
    if (!ptrs.empty()) scores = model::score_images(model, ptrs, options.score, ids, &stats);
    summary.generated_tokens += stats.generated_tokens - tokens_before;
    const auto t_out = std::chrono::steady_clock::now();
    std::size_t next_score = 0;
    for (std::size_t k = 0; k < loaded.size(); ++k) {
      ScoredImage r;
      r.index = first + k;
      r.path = paths[first + k];
      if (!loaded[k].error.empty()) {
        r.status = ScoreStatus::load_error;
        r.error = loaded[k].error;
        r.error_code = loaded[k].code;
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
      break;  // `pending` finishes its batch and is discarded
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
