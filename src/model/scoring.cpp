#include "hawkeye/model/scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"

namespace hawkeye::model {

ScoreOptions default_score_options(const IqaModel& model, std::int64_t samples, std::uint64_t seed) {
  ScoreOptions o;
  o.samples = samples;
  o.seed = seed;
  o.sampling = model.contract().sampling;
  o.sampling.greedy = samples == 0;
  o.sampling.stop_ids = model.stop_ids();
  return o;
}

std::string extract_reasoning(std::string_view c) {
  const auto open = c.find("<think>");
  if (open == std::string_view::npos) return "";
  const auto begin = open + 7;
  auto end = c.find("</think>", begin);
  if (end == std::string_view::npos) end = c.size();
  auto text = c.substr(begin, end - begin);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

std::vector<ImageScore> score_images(IqaModel& model, const std::vector<const Image*>& images, const ScoreOptions& options,
                                     const std::vector<std::string>& identities, GenerationStats* stats) {
  std::vector<ImageScore> out(images.size());
  if (images.empty()) return out;
  if (!identities.empty() && identities.size() != images.size()) {
    throw Error(ErrorCode::invalid_argument, "score_images: one identity per image is required");
  }
  torch::NoGradGuard no_grad;
  auto& policy = model.policy();
  using Clock = std::chrono::steady_clock;
  const auto t_pre = Clock::now();
  const auto pixels = policy.preprocess(images);
  const auto t_enc = Clock::now();
  const auto visuals = policy.encode_images(pixels);
  if (stats) {
    stats->preprocess_seconds += std::chrono::duration<double>(t_enc - t_pre).count();
    stats->encode_seconds += std::chrono::duration<double>(Clock::now() - t_enc).count();
  }
  const std::int64_t K = options.samples > 0 ? options.samples : 1;
  SamplingParams sp = options.sampling;
  sp.greedy = options.samples == 0;
  if (sp.stop_ids.empty()) sp.stop_ids = model.stop_ids();
  if (sp.vocab_limit == 0) sp.vocab_limit = static_cast<std::int64_t>(model.tokenizer().vocab_size());
  std::vector<GenerationRequest> requests;
  for (std::size_t i = 0; i < images.size(); ++i) {
    GenerationRequest r;
    r.prompt = model.prompt_ids(images[i]->width, images[i]->height);
    r.image = static_cast<std::int64_t>(i);
    r.num_samples = K;
    r.seed = identities.empty() ? derive_seed(options.seed, i) : derive_seed(options.seed, identities[i]);
    requests.push_back(std::move(r));
  }
  const auto seqs = generate(policy, visuals, requests, sp, [&](const std::vector<std::int64_t>& ids) { return model.decode(ids); },
                             stats);
  const ScoreRange range{model.contract().score_min, model.contract().score_max};
  for (const auto& s : seqs) {
    auto& r = out[s.request];
    r.tokens += static_cast<std::int64_t>(s.tokens.size());
    // A number outside the model's declared range (a sampled "22.38" or "6551") is not a score on that
    // scale: it is out_of_range and, like a parse failure, never averaged or clamped.
    const ScoreReading a = read_score(s.text, range, OutOfRange::fail);
    const double v = a.ok() ? a.value : std::nan("");
    if (s.sample == 0) {
      r.completion = s.text;
      r.reasoning = extract_reasoning(s.text);
      if (options.samples == 0) r.status = a.status;
    }
    if (a.ok()) ++r.parsed;
    if (options.samples > 0) r.samples.push_back(v);
    else r.score = v;
  }
  if (options.samples > 0) {
    for (auto& r : out) {
      double sum = 0;
      std::int64_t n = 0;
      for (double v : r.samples)
        if (!std::isnan(v)) sum += v, ++n;
      if (n == 0) {
        r.status = ScoreStatus::no_answer_parsed;
        continue;
      }
      r.score = sum / n;
      if (n >= 2) {
        double ss = 0;
        for (double v : r.samples)
          if (!std::isnan(v)) ss += (v - r.score) * (v - r.score);
        r.std = std::sqrt(ss / n);
      }
    }
  }
  return out;
}

}  // namespace hawkeye::model
