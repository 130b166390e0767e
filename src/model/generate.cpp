#include "hawkeye/model/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "hawkeye/core/error.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/threads.h"

#include <ATen/Parallel.h>
#include "hawkeye/core/random.h"

namespace hawkeye::model {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A small counter-based generator per row: reproducible and independent of other rows.
double next_uniform(std::uint64_t* state) {
  *state += 0x9e3779b97f4a7c15ULL;
  const std::uint64_t x = splitmix64(*state);
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

}  // namespace

std::int64_t sample_token(const float* logits, std::int64_t vocab, const SamplingParams& s, std::uint64_t* rng_state) {
  if (s.greedy) return std::max_element(logits, logits + vocab) - logits;
  const double temp = s.temperature > 0 ? s.temperature : 1.0;
  // Candidates sorted by logit (descending), cut to top-k.
  std::vector<std::int64_t> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  const std::int64_t k = (s.top_k > 0 && s.top_k < vocab) ? s.top_k : vocab;
  auto by_logit = [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), by_logit);
  idx.resize(k);
  const double top = logits[idx[0]];
  std::vector<double> p(k);
  double sum = 0;
  for (std::int64_t i = 0; i < k; ++i) {
    p[i] = std::isfinite(logits[idx[i]]) ? std::exp((logits[idx[i]] - top) / temp) : 0.0;
    sum += p[i];
  }
  std::int64_t n = k;
  if (s.top_p < 1.0) {
    // Smallest prefix whose mass reaches top_p (always at least one token).
    double acc = 0;
    for (std::int64_t i = 0; i < k; ++i) {
      acc += p[i] / sum;
      if (acc >= s.top_p) {
        n = i + 1;
        break;
      }
    }
    sum = std::accumulate(p.begin(), p.begin() + n, 0.0);
  }
  const double u = next_uniform(rng_state) * sum;
  double acc = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    acc += p[i];
    if (u < acc) return idx[i];
  }
  return idx[n - 1];
}

std::vector<GeneratedSequence> generate(Policy& policy, const VisualEmbeds& visuals,
                                        const std::vector<GenerationRequest>& requests, const SamplingParams& sampling,
                                        const Detokenizer& detokenize, GenerationStats* stats) {
  torch::NoGradGuard no_grad;
  std::vector<GeneratedSequence> out;
  if (requests.empty()) return out;
  if (sampling.max_new_tokens <= 0) throw Error(ErrorCode::invalid_argument, "max_new_tokens must be positive");
  GenerationStats local;
  GenerationStats& st = stats ? *stats : local;

  PromptBatch prompts;
  std::vector<std::int64_t> repeats;
  for (const auto& r : requests) {
    if (r.num_samples <= 0) throw Error(ErrorCode::invalid_argument, "num_samples must be positive");
    prompts.tokens.push_back(r.prompt);
    prompts.image.push_back(r.image);
    repeats.push_back(r.num_samples);
  }
  auto t0 = Clock::now();
  KVCache cache;
  auto logits = policy.prefill(prompts, visuals, cache, sampling.max_new_tokens);
  // Expand every request to its K samples: the prompt was computed once.
  const bool uniform = std::all_of(repeats.begin(), repeats.end(), [&](auto k) { return k == repeats[0]; });
  if (uniform && repeats[0] > 1) {
    cache = cache.expand(repeats[0]);
    logits = logits.repeat_interleave(repeats[0], 0);
  } else if (!uniform) {
    std::vector<std::int64_t> rows;
    for (std::size_t r = 0; r < repeats.size(); ++r) rows.insert(rows.end(), repeats[r], static_cast<std::int64_t>(r));
    const auto index = torch::tensor(rows, torch::kInt64);
    cache = cache.select(index);
    logits = logits.index_select(0, index.to(logits.device()));
  }
  st.prefill_seconds += since(t0);

  const auto B = logits.size(0);
  const auto V = logits.size(1);
  out.resize(B);
  std::vector<std::uint64_t> rng(B);
  {
    std::int64_t row = 0;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      for (std::int64_t k = 0; k < requests[r].num_samples; ++k, ++row) {
        out[row].request = static_cast<std::int64_t>(r);
        out[row].sample = k;
        rng[row] = derive_seed(requests[r].seed, static_cast<std::uint64_t>(k), 0x67656e);
      }
    }
  }
  std::vector<char> done(B, 0);
  std::int64_t remaining = B;
  std::vector<std::int64_t> next(B, 0);
  for (std::int64_t step = 0; step < sampling.max_new_tokens && remaining > 0; ++step) {
    auto ts = Clock::now();
    // One transfer per step. On an accelerator only the top-k candidates travel (all sampling needs).
    const auto lf = logits.to(torch::kFloat32);
    const auto lse = torch::logsumexp(lf, -1).to(torch::kCPU);
    // Candidates: the ids the tokenizer knows (a prefix of the vocabulary).
    const auto cand = sampling.vocab_limit > 0 && sampling.vocab_limit < V ? lf.narrow(1, 0, sampling.vocab_limit) : lf;
    const std::int64_t Vc = cand.size(1);
    torch::Tensor host, host_ids;
    std::int64_t width = Vc;
    const std::int64_t cut = sampling.greedy ? 1 : (sampling.top_k > 0 && sampling.top_k < Vc ? sampling.top_k : 0);
    if (!cand.device().is_cpu() && cut > 0) {
      auto [vals, ids] = cand.topk(cut, -1);
      host = vals.to(torch::kCPU).contiguous();
      host_ids = ids.to(torch::kCPU).contiguous();
      width = cut;
    } else {
      host = cand.to(torch::kCPU).contiguous();
    }
    const float* lp = host.data_ptr<float>();
    const std::int64_t* idp = host_ids.defined() ? host_ids.data_ptr<std::int64_t>() : nullptr;
    const float* lsep = lse.data_ptr<float>();
    for (std::int64_t b = 0; b < B; ++b) {
      if (done[b]) {
        next[b] = out[b].tokens.empty() ? 0 : out[b].tokens.back();
        continue;
      }
      const float* row = lp + b * width;
      const std::int64_t pick = sample_token(row, width, sampling, &rng[b]);
      const std::int64_t tok = idp ? idp[b * width + pick] : pick;
      out[b].tokens.push_back(tok);
      out[b].logprobs.push_back(row[pick] - lsep[b]);
      next[b] = tok;
      ++st.generated_tokens;
      if (std::find(sampling.stop_ids.begin(), sampling.stop_ids.end(), tok) != sampling.stop_ids.end()) {
        done[b] = 1;
        out[b].finish_reason = "stop";
        --remaining;
      }
    }
    st.sample_seconds += since(ts);
    if (remaining == 0 || step + 1 == sampling.max_new_tokens) break;
    auto td = Clock::now();
    logits = policy.decode_step(cache, torch::tensor(next, torch::kInt64));
    st.decode_seconds += since(td);
    ++st.steps;
  }
  for (auto& s : out) {
    if (s.finish_reason.empty()) s.finish_reason = "length";
    if (detokenize) s.text = detokenize(s.tokens);
  }
  return out;
}

std::vector<GeneratedSequence> generate_in_parts(Policy& policy, const VisualEmbeds& visuals,
                                                 const std::vector<GenerationRequest>& requests, const SamplingParams& sampling,
                                                 int part_count, int threads, const Detokenizer& detokenize, GenerationStats* stats) {
  const std::size_t R = requests.size();
  const std::size_t parts = std::min<std::size_t>(R, static_cast<std::size_t>(std::max(1, part_count)));
  if (parts <= 1) {
    const OpenMPThreadsWhile one_core(1);
    return generate(policy, visuals, requests, sampling, detokenize, stats);
  }
  // Contiguous parts of about equal rows: part p starts at the first request whose preceding rows reach p/parts of
  // all rows, every part keeping at least one request.
  std::vector<std::int64_t> before(R + 1, 0);  // rows of the requests before i
  for (std::size_t i = 0; i < R; ++i) before[i + 1] = before[i] + std::max<std::int64_t>(requests[i].num_samples, 0);
  std::vector<std::size_t> first(parts + 1, R);
  first[0] = 0;
  for (std::size_t p = 1; p < parts; ++p) {
    std::size_t i = first[p - 1] + 1;
    while (i < R - (parts - p) && before[i] * static_cast<std::int64_t>(parts) < before[R] * static_cast<std::int64_t>(p)) ++i;
    first[p] = i;
  }
  // Each part sees only its own images (renumbered), so its prefill does no work for the others'.
  std::vector<std::vector<GeneratedSequence>> out(parts);
  std::vector<GenerationStats> part_stats(parts);
  const auto wall0 = Clock::now();
  parallel_for(parts, std::max(1, threads), [&](std::size_t p, int) {
    const torch::NoGradGuard no_grad;  // grad mode is per thread
    at::internal::lazy_init_num_threads();  // a new thread's first parallel op would set torch's count again
    const OpenMPThreadsWhile one_core(1);
    std::vector<GenerationRequest> mine(requests.begin() + static_cast<std::ptrdiff_t>(first[p]),
                                        requests.begin() + static_cast<std::ptrdiff_t>(first[p + 1]));
    VisualEmbeds vis;
    std::vector<std::int64_t> renumber(static_cast<std::size_t>(visuals.images()), -1);
    std::vector<torch::Tensor> pieces;
    vis.offsets.push_back(0);
    for (auto& q : mine) {
      if (q.image < 0) continue;
      if (q.image >= visuals.images()) {
        throw Error(ErrorCode::invalid_argument, "generate: request image " + std::to_string(q.image) + " of " +
                                                     std::to_string(visuals.images()));
      }
      auto& to = renumber[static_cast<std::size_t>(q.image)];
      if (to < 0) {
        to = vis.images();
        pieces.push_back(visuals.embeds.narrow(0, visuals.offsets[q.image], visuals.tokens(q.image)));
        vis.offsets.push_back(vis.offsets.back() + visuals.tokens(q.image));
        vis.grid.push_back(visuals.grid[static_cast<std::size_t>(q.image)]);
      }
      q.image = to;
    }
    vis.embeds = pieces.empty() ? visuals.embeds.narrow(0, 0, 0) : torch::cat(pieces, 0);
    out[p] = generate(policy, vis, mine, sampling, nullptr, &part_stats[p]);
    for (auto& s : out[p]) s.request += static_cast<std::int64_t>(first[p]);
  });
  const double wall = since(wall0);
  std::vector<GeneratedSequence> seqs;
  GenerationStats sum;
  for (std::size_t p = 0; p < parts; ++p) {
    for (auto& s : out[p]) {
      if (detokenize) s.text = detokenize(s.tokens);
      seqs.push_back(std::move(s));
    }
    sum.prefill_seconds += part_stats[p].prefill_seconds;
    sum.decode_seconds += part_stats[p].decode_seconds;
    sum.sample_seconds += part_stats[p].sample_seconds;
    sum.generated_tokens += part_stats[p].generated_tokens;
    sum.steps = std::max(sum.steps, part_stats[p].steps);
  }
  // The parts' times scaled to the wall time of the whole (fewer threads than parts: the parts ran one after another).
  const double busy = sum.prefill_seconds + sum.decode_seconds + sum.sample_seconds;
  const double scale = busy > 0 ? wall / busy : 0.0;
  sum.prefill_seconds *= scale;
  sum.decode_seconds *= scale;
  sum.sample_seconds *= scale;
  if (stats) {
    stats->prefill_seconds += sum.prefill_seconds;
    stats->decode_seconds += sum.decode_seconds;
    stats->sample_seconds += sum.sample_seconds;
    stats->generated_tokens += sum.generated_tokens;
    stats->steps += sum.steps;
  }
  return seqs;
}

}  // namespace hawkeye::model
