// The GRPO step of `hawkeye train` (docs/method.md §2–6): every μ optimiser steps a new rollout batch
// (collect_rollouts → score_rollouts → compute_advantages → pack_completions), then on every step one
// loss_pass per accumulation micro-batch (log-probs of the policy, the frozen reference and the degraded twins →
// the Q-Hawkeye loss → backward).
#include "hawkeye/rl/grpo_step.h"

#include <algorithm>
#include <cmath>

#include <ATen/Parallel.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/random.h"
#include "hawkeye/data/pairs.h"
#include "hawkeye/model/mobilenet.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/rl/losses.h"
#include "train_step.h"

namespace hawkeye::rl {

using nlohmann::ordered_json;

ScoredRollouts score_rollouts(const std::vector<model::GeneratedSequence>& seqs, std::int64_t B, std::int64_t K,
                              const RewardSet& rewards, const std::vector<double>& targets) {
  if (static_cast<std::int64_t>(targets.size()) != B) throw Error(ErrorCode::internal, "score_rollouts: one target per request");
  if (static_cast<std::int64_t>(seqs.size()) != B * K) {
    throw Error(ErrorCode::internal, "score_rollouts: " + std::to_string(seqs.size()) + " sequences for " + std::to_string(B) + " x " +
                                         std::to_string(K) + " rollouts");
  }
  ScoredRollouts out;
  out.rewards = torch::zeros({B, K}, torch::kFloat64);
  out.scores = torch::full({B, K}, std::nan(""), torch::kFloat32);
  out.parts.resize(rewards.size());
  std::vector<char> seen(static_cast<std::size_t>(B * K), 0);
  auto rew = out.rewards.accessor<double, 2>();
  auto sc = out.scores.accessor<float, 2>();
  for (const auto& s : seqs) {
    if (s.request < 0 || s.request >= B || s.sample < 0 || s.sample >= K || seen[static_cast<std::size_t>(s.request * K + s.sample)]) {
      throw Error(ErrorCode::internal, "score_rollouts: sequence (" + std::to_string(s.request) + ", " + std::to_string(s.sample) +
                                           ") is outside the batch or repeated");
    }
    seen[static_cast<std::size_t>(s.request * K + s.sample)] = 1;
    const auto res = rewards.evaluate(s.text, targets[static_cast<std::size_t>(s.request)]);
    rew[s.request][s.sample] = res.total;
    if (!res.answer.ok()) ++out.failures;
    if (res.uado.ok()) sc[s.request][s.sample] = static_cast<float>(res.uado.value);
    for (std::size_t p = 0; p < out.parts.size(); ++p) out.parts[p].push_back(res.parts[p]);
    out.longest = std::max<std::int64_t>(out.longest, static_cast<std::int64_t>(s.tokens.size()));
    out.gen_tokens += static_cast<std::int64_t>(s.tokens.size());
  }
  return out;
}

GroupAdvantages compute_advantages(const ScoredRollouts& scored, bool uado, const UadoOptions& options) {
  GroupAdvantages out;
  out.advantages = group_advantages(scored.rewards);
  out.weights = torch::ones({scored.rewards.size(0)});
  if (uado) {
    out.weights = uncertainty_weights(scored.scores, options);
    out.advantages = out.advantages * out.weights.to(out.advantages.scalar_type()).unsqueeze(1);
  }
  return out;
}

PackedRollouts pack_completions(const std::vector<model::GeneratedSequence>& seqs, const std::vector<std::vector<std::int64_t>>& prompts,
                                std::int64_t K, std::int64_t longest) {
  const auto B = static_cast<std::int64_t>(prompts.size());
  const auto N = B * K;
  if (static_cast<std::int64_t>(seqs.size()) != N) throw Error(ErrorCode::internal, "pack_completions: one sequence per row");
  PackedRollouts out;
  out.completions.tokens = torch::zeros({N, longest}, torch::kInt64);
  out.completions.mask = torch::zeros({N, longest}, torch::kBool);
  out.old_logp = torch::zeros({N, longest}, torch::kFloat32);
  out.prompts.tokens.resize(static_cast<std::size_t>(N));
  out.prompts.image.resize(static_cast<std::size_t>(N));
  for (const auto& s : seqs) {
    const auto n = static_cast<std::int64_t>(s.tokens.size());
    if (s.request < 0 || s.request >= B || s.sample < 0 || s.sample >= K || n > longest ||
        s.logprobs.size() != s.tokens.size()) {
      throw Error(ErrorCode::internal, "pack_completions: sequence (" + std::to_string(s.request) + ", " + std::to_string(s.sample) +
                                           ") does not fit the batch");
    }
    const auto row = s.request * K + s.sample;
    if (n > 0) {
      out.completions.tokens[row].narrow(0, 0, n).copy_(torch::tensor(s.tokens, torch::kInt64));
      out.completions.mask[row].narrow(0, 0, n).fill_(true);
      out.old_logp[row].narrow(0, 0, n).copy_(torch::tensor(s.logprobs, torch::kFloat32));
    }
    out.prompts.tokens[static_cast<std::size_t>(row)] = prompts[static_cast<std::size_t>(s.request)];
    out.prompts.image[static_cast<std::size_t>(row)] = s.request;
  }
  return out;
}

ordered_json rollout_stats(const ScoredRollouts& scored, const GroupAdvantages& adv, const std::vector<std::string>& reward_names,
                           double rollout_seconds) {
  const auto N = scored.rewards.numel();
  ordered_json st;
  for (std::size_t p = 0; p < scored.parts.size(); ++p) {
    const auto t = torch::tensor(scored.parts[p], torch::kFloat64);
    st["reward_" + reward_names[p] + "_mean"] = t.mean().item<double>();
    st["reward_" + reward_names[p] + "_std"] = t.numel() > 1 ? t.std().item<double>() : 0.0;
  }
  st["reward_mean"] = scored.rewards.mean().item<double>();
  st["reward_std"] = scored.rewards.std().item<double>();
  st["parse_failure_rate"] = static_cast<double>(scored.failures) / static_cast<double>(N);
  st["advantage_abs_mean"] = adv.advantages.abs().mean().item<double>();
  st["advantage_std"] = adv.advantages.std().item<double>();
  // groups whose K rewards are all equal: their advantages are exactly 0 and they teach nothing
  st["zero_advantage_groups"] = (adv.advantages == 0).all(1).to(torch::kFloat64).mean().item<double>();
  st["uado_weight_mean"] = adv.weights.mean().item<double>();
  st["uado_weight_min"] = adv.weights.min().item<double>();
  st["completion_tokens_mean"] = static_cast<double>(scored.gen_tokens) / static_cast<double>(N);
  st["rollout_tokens"] = scored.gen_tokens;
  st["rollout_seconds"] = rollout_seconds;
  return st;
}

void merge_rollout_stats(const std::vector<ordered_json>& stats, bool new_rollouts, ordered_json& record) {
  ordered_json agg;
  double roll_tokens = 0, roll_seconds = 0;
  for (const auto& s : stats) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const auto& k = it.key();
      if (k == "rollout_tokens") roll_tokens += it->get<double>();
      else if (k == "rollout_seconds") roll_seconds += it->get<double>();
      else if (k == "uado_weight_min") agg[k] = agg.contains(k) ? std::min(agg[k].get<double>(), it->get<double>()) : it->get<double>();
      else agg[k] = (agg.contains(k) ? agg[k].get<double>() : 0.0) + it->get<double>() / static_cast<double>(stats.size());
    }
  }
  for (auto it = agg.begin(); it != agg.end(); ++it) record[it.key()] = *it;
  if (new_rollouts) record["rollout_tokens_per_s"] = roll_seconds > 0 ? roll_tokens / roll_seconds : 0.0;
}

namespace detail {
namespace {

// The rollouts of the current rollout batch (kept across the μ optimisation passes), one per micro-batch.
struct Rollout {
  std::vector<Image> images, twins;
  // The images' encoding by the vision tower, kept for loss_pass when the tower is fixed (GrpoStep::vision_fixed_).
  model::VisualEmbeds visuals;
  PackedRollouts packed;
  torch::Tensor advantages;  // [B·K] float32 on the run's device
  ordered_json stats;
};

// Rows per part of a rollout micro-batch generated in parts (GrpoStep::in_parts_): 2 parts for the recipe's micro-batch
// of 4 images x K = 4. One request per part (4 rows) made the rollouts 50 % slower; 16 rows in one part leave a core
// idle (bench/README.md §5).
constexpr std::int64_t kRolloutRowsPerPart = 8;

class GrpoStep final : public TrainStep {
 public:
  explicit GrpoStep(Run& r) : r_(r), cfg_(*r.grpo) {
    auto& model = *r_.model;
    rewards_ = RewardSet::from_config(cfg_, ScoreRange{model.contract().score_min, model.contract().score_max});
    K_ = cfg_.rollout.k;
    mu_ = cfg_.loss.mu;
    perception_ = cfg_.loss.perception;
    on_the_fly_ = cfg_.pairs.on_the_fly;
    sampling_.temperature = cfg_.rollout.temperature;
    sampling_.top_k = cfg_.rollout.top_k;
    sampling_.top_p = cfg_.rollout.top_p;
    sampling_.max_new_tokens = cfg_.rollout.max_new_tokens;
    sampling_.stop_ids = model.stop_ids();
    sampling_.vocab_limit = static_cast<std::int64_t>(model.tokenizer().vocab_size());
    uado_.alpha = cfg_.loss.alpha;
    uado_.lo = model.contract().score_min;
    uado_.hi = model.contract().score_max;
    loss_.beta = cfg_.loss.beta;
    loss_.ref_kl = r_.reference != nullptr;
    loss_.clip_low = cfg_.loss.clip_low;
    loss_.clip_high = cfg_.loss.clip_high;
    loss_.entropy_eta = cfg_.loss.entropy_eta;
    loss_.rows_per_image = K_;  // the perception KL is pooled per image
    // pairs.on_the_fly: each image's twin is made as `hawkeye pairs` makes it (same builder, SSIM perceptibility
    // test at pairs.threshold, same seed for the same run seed and manifest path).
    pair_options_.similarity = [](const Image& a, const Image& b) { return ssim(a, b); };
    pair_options_.threshold = cfg_.pairs.threshold;
    if (!r_.froze_any) model.policy().freeze_norm_statistics(cfg_.loss.freeze_norm);
    // With the vision tower fixed (train.freeze covers every "visual." parameter, which also freezes the norm
    // statistics), an image's encoding is the same in the rollout and in every pass of the loss: it is computed
    // once per rollout batch (the vision tower's inference graph, one image per core) and reused by the policy's
    // log-probs and, when the reference's tower has the same weights, by the reference's. The twins are encoded
    // the same way. Otherwise (the tower trains) every pass encodes again, as the log-probs need its gradient.
    const auto mine = model.policy().named_parameters();
    const auto theirs = r_.reference ? r_.reference->policy().named_parameters() : decltype(mine)();
    bool any_visual = false, all_frozen = true, same_as_reference = r_.reference && r_.froze_any;
    for (const auto& p : mine) {
      if (p.key().rfind("visual.", 0) != 0) continue;
      any_visual = true;
      all_frozen = all_frozen && !p.value().requires_grad();
      const auto* t = same_as_reference && all_frozen ? theirs.find(p.key()) : nullptr;
      same_as_reference = t && t->sizes().equals(p.value().sizes()) && torch::equal(*t, p.value());
    }
    vision_fixed_ = r_.froze_any && any_visual && all_frozen;
    // A small language model on the CPU with the tower fixed: the rollouts and the loss in parts, one core each.
    in_parts_ = r_.device.is_cpu() && model::generates_on_one_core(model) && vision_fixed_;
    ref_shares_vision_ = vision_fixed_ && same_as_reference;
  }

  std::int64_t data_step(std::int64_t step) const override { return step / mu_; }
  bool thread_count_free() const override { return in_parts_; }

  double accumulate(const StepBatch& batch, ordered_json& rec, StepTimes& times) override {
    images_encoded_ = 0;
    if (batch.step % mu_ == 0 || rollouts_.empty()) {
      rollouts_.clear();
      for (std::int64_t a = 0; a < r_.accum; ++a) rollouts_.push_back(collect_rollouts(batch, a, times));
    }
    const double gamma = perception_ ? perception_gamma(batch.epoch, cfg_.loss.gamma0, cfg_.loss.gamma_epochs) : 0.0;
    loss_.gamma = gamma;
    double loss_sum = 0, kl_ref = 0, kl_prcp = 0, pol = 0, clipfrac = 0, ent = 0;
    std::int64_t tokens = 0;
    for (auto& ro : rollouts_) {
      const auto v = in_parts_ ? loss_pass_in_parts(ro, gamma, times) : loss_pass(ro, gamma, times);
      const double a = static_cast<double>(r_.accum);
      loss_sum += v[0] / a;
      kl_ref += v[1] / a;
      kl_prcp += v[2] / a;
      pol += v[3] / a;
      clipfrac += v[4] / a;
      ent += v[5] / a;
      tokens += static_cast<std::int64_t>(std::llround(v[6]));
    }
    rec["loss"] = loss_sum;
    rec["policy_loss"] = pol;
    rec["kl_ref"] = kl_ref;
    rec["kl_prcp"] = (perception_ && gamma > 0) ? nlohmann::json(kl_prcp) : nlohmann::json(nullptr);
    rec["gamma"] = gamma;
    rec["clip_fraction"] = clipfrac;
    rec["entropy"] = ent;
    std::vector<ordered_json> stats;
    for (const auto& ro : rollouts_) stats.push_back(ro.stats);
    merge_rollout_stats(stats, batch.step % mu_ == 0, rec);
    rec["tokens"] = tokens;
    rec["images_encoded"] = images_encoded_;  // vision-tower passes of this step (one per image and model)
    return loss_sum;
  }

 private:
  // collect_rollouts: micro-batch a of the step's rows — images (and twins) loaded and augmented, encoded once,
  // K sampled completions per image — then scored, turned into advantages and packed.
  Rollout collect_rollouts(const StepBatch& batch, std::int64_t a, StepTimes& times) {
    auto& policy = r_.model->policy();
    const auto& opts = r_.opts;
    Rollout ro;
    auto tl = Clock::now();
    std::vector<std::size_t> idx;
    std::vector<std::filesystem::path> paths, twin_paths;
    for (std::int64_t k = 0; k < batch.micro; ++k) {
      idx.push_back(batch.rows[static_cast<std::size_t>(a * batch.micro + k)]);
      paths.push_back(r_.train[idx.back()].image);
      if (perception_ && !on_the_fly_) twin_paths.push_back(r_.train[idx.back()].twin);
    }
    ro.images = load_batch(paths, r_.limits, r_.threads);
    if (perception_) {
      if (on_the_fly_) {
        for (std::size_t i = 0; i < ro.images.size(); ++i) {
          ro.twins.push_back(build_pair(ro.images[i], derive_seed(r_.seed, "pair|" + r_.train[idx[i]].id), pair_options_).twin);
        }
      } else {
        ro.twins = load_batch(twin_paths, r_.limits, r_.threads);
      }
    }
    augment_batch(ro.images, perception_ ? &ro.twins : nullptr, r_.augment, derive_seed(r_.seed, std::uint64_t{0}),
                  ((batch.step / mu_) * opts.dist.world + opts.dist.rank) * r_.accum + a);  // dist: global micro-batch index
    times.load += seconds_since(tl);

    auto tr = Clock::now();
    std::vector<const Image*> ptrs;
    for (const auto& im : ro.images) ptrs.push_back(&im);
    model::VisualEmbeds vis;
    {
      torch::NoGradGuard ng;
      const model::InferenceGraphScope fast(vision_fixed_);
      vis = encode_counted(policy, ptrs);
    }
    if (vision_fixed_) ro.visuals = vis;
    std::vector<model::GenerationRequest> reqs;
    std::vector<std::vector<std::int64_t>> prompts;
    std::vector<double> targets;
    for (std::size_t i = 0; i < ro.images.size(); ++i) {
      model::GenerationRequest q;
      q.prompt = r_.model->prompt_ids(ro.images[i].width, ro.images[i].height);
      q.image = static_cast<std::int64_t>(i);
      q.num_samples = K_;
      q.seed = derive_seed(r_.seed, "rollout", static_cast<std::uint64_t>(batch.step / mu_), derive_seed(0, r_.train[idx[i]].id));
      prompts.push_back(q.prompt);
      targets.push_back(r_.train[idx[i]].label);
      reqs.push_back(std::move(q));
    }
    model::GenerationStats gs;
    const model::Detokenizer detok = [&](const std::vector<std::int64_t>& ids) { return r_.model->decode(ids); };
    // A small language model (hawkeye-tiny) generates its rows in parts of about kRolloutRowsPerPart rows, each alone
    // on one core (model::generate_in_parts): no barriers between the cores (which the passive wait policy makes
    // slow), and the parts are set by the batch, not by the thread count, so the sequences are the same with any
    // count. A larger model spreads each decoding step over every core.
    const std::int64_t rows = static_cast<std::int64_t>(reqs.size()) * K_;
    const auto parts = static_cast<int>((rows + kRolloutRowsPerPart - 1) / kRolloutRowsPerPart);
    const auto seqs = in_parts_ ? model::generate_in_parts(policy, vis, reqs, sampling_, parts, at::get_num_threads(), detok, &gs)
                                : model::generate(policy, vis, reqs, sampling_, detok, &gs);
    times.rollout += seconds_since(tr);

    const auto B = static_cast<std::int64_t>(ro.images.size());
    const auto scored = score_rollouts(seqs, B, K_, rewards_, targets);
    const auto adv = compute_advantages(scored, cfg_.loss.uado, uado_);
    ro.packed = pack_completions(seqs, prompts, K_, scored.longest);
    ro.advantages = adv.advantages.reshape({B * K_}).to(torch::kFloat32).to(r_.device);
    ro.packed.completions.tokens = ro.packed.completions.tokens.to(r_.device);
    ro.packed.completions.mask = ro.packed.completions.mask.to(r_.device);
    ro.packed.old_logp = ro.packed.old_logp.to(r_.device);
    ro.stats = rollout_stats(scored, adv, rewards_.names(), gs.prefill_seconds + gs.decode_seconds + gs.sample_seconds);
    return ro;
  }

  // loss_pass: log-probs of the completions under the policy (with gradient), the frozen reference and, while
  // γ > 0, the policy on the degraded twins; the Q-Hawkeye loss; backward. Returns the logged numbers: total,
  // kl_ref, kl_prcp, policy, clip fraction, entropy, completion tokens (crossing to the host together).
  std::vector<double> loss_pass(const Rollout& ro, double gamma, StepTimes& times) {
    auto& policy = r_.model->policy();
    auto tf = Clock::now();
    std::vector<const Image*> ptrs, tptrs;
    for (const auto& im : ro.images) ptrs.push_back(&im);
    for (const auto& im : ro.twins) tptrs.push_back(&im);
    const auto& prompts = ro.packed.prompts;
    const auto& completions = ro.packed.completions;
    torch::Tensor ref_logp, deg_logp;
    {
      torch::NoGradGuard ng;
      if (r_.reference) {
        auto& ref = r_.reference->policy();
        const auto rv = ref_shares_vision_ ? ro.visuals : encode_counted(ref, ptrs);
        ref_logp = ref.token_logprobs(prompts, rv, completions);
      }
      if (perception_ && gamma > 0) {
        const model::InferenceGraphScope fast(vision_fixed_);
        const auto dv = encode_counted(policy, tptrs);
        deg_logp = policy.token_logprobs(prompts, dv, completions);
      }
    }
    const auto vis = vision_fixed_ ? ro.visuals : encode_counted(policy, ptrs);
    const auto logp = policy.token_logprobs(prompts, vis, completions);  // float32 in any model dtype
    const auto parts = qhawkeye_loss(logp, mu_ > 1 ? ro.packed.old_logp : torch::Tensor(), ref_logp, deg_logp, ro.advantages,
                                     completions.mask, loss_);
    times.logprob += seconds_since(tf);
    auto tb = Clock::now();
    (parts.total / static_cast<double>(r_.accum)).backward();
    times.backward += seconds_since(tb);
    return logged_numbers(parts, completions.mask);
  }

  // loss_pass for a small language model on the CPU with the vision tower fixed: the same loss, computed in parts
  // of two images' rows (2K), each part alone on one core (no barriers between cores, so no cost from the passive wait
  // policy), and summed in part order, so the step's values do not depend on the thread count. Forward: each part's
  // log-probs under the policy (with autograd), the reference and the twins; the loss of all rows on their
  // (detached) log-probs gives d loss / d log-probs; backward: each part's parameter gradients for its slice of
  // it (torch::autograd::grad, not accumulated), then added to .grad in part order.
  std::vector<double> loss_pass_in_parts(const Rollout& ro, double gamma, StepTimes& times) {
    auto& policy = r_.model->policy();
    auto tf = Clock::now();
    const auto B = static_cast<std::int64_t>(ro.images.size());
    const auto& completions = ro.packed.completions;
    const auto N = completions.tokens.size(0), T = completions.tokens.size(1);
    const bool deg = perception_ && gamma > 0;
    model::VisualEmbeds dv;
    if (deg) {
      std::vector<const Image*> tptrs;
      for (const auto& im : ro.twins) tptrs.push_back(&im);
      const torch::NoGradGuard ng;
      const model::InferenceGraphScope fast;
      dv = encode_counted(policy, tptrs);
    }
    if (r_.reference && !ref_shares_vision_) images_encoded_ += B;  // counted as in loss_pass; encoded per part below
    // Parts of per_part images (a fixed number: the parts must not depend on the thread count).
    // Two images per part: as fast as one on 2 threads, and at 1 thread the step's parts cost +8 % against the whole
    // batch in one pass where one image per part cost +16 % (bench/README.md §5).
    constexpr std::int64_t per_part = 2;
    const auto P = (B + per_part - 1) / per_part;
    // Each part's longest completion: its rows are cut to it (the columns after it are padding for all of them).
    const auto lengths = completions.mask.sum(1).to(torch::kCPU);
    const auto* len = lengths.data_ptr<std::int64_t>();
    struct Part {
      std::int64_t first = 0, images = 0, cols = 1;  // images [first, first + images), rows K times that
      torch::Tensor logp, ref_logp, deg_logp;  // [rows, cols]; logp keeps its graph until the backward
      std::vector<torch::Tensor> grads;
    };
    std::vector<Part> parts(static_cast<std::size_t>(P));
    for (std::int64_t p = 0; p < P; ++p) {
      auto& part = parts[static_cast<std::size_t>(p)];
      part.first = p * per_part;
      part.images = std::min(per_part, B - part.first);
      for (std::int64_t r = part.first * K_; r < (part.first + part.images) * K_; ++r) part.cols = std::max(part.cols, len[r]);
      part.cols = std::min(part.cols, T);
    }
    const auto slice = [](const model::VisualEmbeds& v, std::int64_t first, std::int64_t n) {
      model::VisualEmbeds out;
      const auto from = v.offsets[static_cast<std::size_t>(first)];
      out.embeds = v.embeds.narrow(0, from, v.offsets[static_cast<std::size_t>(first + n)] - from);
      for (std::int64_t i = first; i <= first + n; ++i) out.offsets.push_back(v.offsets[static_cast<std::size_t>(i)] - from);
      out.grid.assign(v.grid.begin() + first, v.grid.begin() + first + n);
      return out;
    };
    const bool grad_on = torch::GradMode::is_enabled();
    const int threads = at::get_num_threads();
    parallel_for(parts.size(), threads, [&](std::size_t pi, int) {
      at::internal::lazy_init_num_threads();  // a new thread's first parallel op would set torch's count again
      const OpenMPThreadsWhile one_core(1);
      auto& part = parts[pi];
      const auto r0 = part.first * K_, rows = part.images * K_;
      model::PromptBatch pb;
      for (std::int64_t r = r0; r < r0 + rows; ++r) {
        pb.tokens.push_back(ro.packed.prompts.tokens[static_cast<std::size_t>(r)]);
        pb.image.push_back(ro.packed.prompts.image[static_cast<std::size_t>(r)] - part.first);
      }
      const model::CompletionBatch cb{completions.tokens.narrow(0, r0, rows).narrow(1, 0, part.cols),
                                      completions.mask.narrow(0, r0, rows).narrow(1, 0, part.cols)};
      const auto vis = slice(ro.visuals, part.first, part.images);
      {
        const torch::NoGradGuard ng;
        if (r_.reference) {
          auto& ref = r_.reference->policy();
          model::VisualEmbeds rv;
          if (ref_shares_vision_) {
            rv = vis;
          } else {
            std::vector<const Image*> mine;
            for (std::int64_t i = part.first; i < part.first + part.images; ++i) mine.push_back(&ro.images[static_cast<std::size_t>(i)]);
            rv = ref.encode_images(ref.preprocess(mine));
          }
          part.ref_logp = ref.token_logprobs(pb, rv, cb);
        }
        if (deg) part.deg_logp = policy.token_logprobs(pb, slice(dv, part.first, part.images), cb);
      }
      const torch::AutoGradMode with_grad(grad_on);  // grad mode is per thread: the caller's
      part.logp = policy.token_logprobs(pb, vis, cb);
    });
    // All rows' log-probs, detached, padded back to the rollout batch's width.
    const auto full = [&](auto member) {
      auto t = torch::zeros({N, T}, torch::TensorOptions().dtype(torch::kFloat32).device(r_.device));
      for (const auto& part : parts) {
        const auto& x = part.*member;
        t.narrow(0, part.first * K_, part.images * K_).narrow(1, 0, x.size(1)).copy_(x.detach());
      }
      return t;
    };
    auto logp = full(&Part::logp).requires_grad_(grad_on);
    const auto ref_logp = r_.reference ? full(&Part::ref_logp) : torch::Tensor();
    const auto deg_logp = deg ? full(&Part::deg_logp) : torch::Tensor();
    // The loss of all rows, its gradient and the ordered sum below run on one core: on tensors of more than 32,768
    // elements torch would split sums (and the tails of vectorised exp) by the thread count.
    const OpenMPThreadsWhile one_core(1);
    const auto lp = qhawkeye_loss(logp, mu_ > 1 ? ro.packed.old_logp : torch::Tensor(), ref_logp, deg_logp, ro.advantages,
                                  completions.mask, loss_);
    times.logprob += seconds_since(tf);
    auto tb = Clock::now();
    const auto d_logp = torch::autograd::grad({lp.total / static_cast<double>(r_.accum)}, {logp})[0];
    std::vector<torch::Tensor> params;
    for (const auto& p : policy.parameters())
      if (p.requires_grad()) params.push_back(p);
    parallel_for(parts.size(), threads, [&](std::size_t pi, int) {
      at::internal::lazy_init_num_threads();
      const OpenMPThreadsWhile one_core(1);
      auto& part = parts[pi];
      const auto g = d_logp.narrow(0, part.first * K_, part.images * K_).narrow(1, 0, part.cols);
      part.grads = torch::autograd::grad({part.logp}, params, {g}, /*retain_graph=*/false, /*create_graph=*/false,
                                         /*allow_unused=*/true);
      part.logp = torch::Tensor();  // its graph is freed
    });
    {
      const torch::NoGradGuard ng;
      for (std::size_t j = 0; j < params.size(); ++j) {
        torch::Tensor sum;
        for (auto& part : parts) {
          auto& g = part.grads[j];
          if (!g.defined()) continue;
          // summed in float32 (a bfloat16 model would otherwise round once per part); a part's gradient may be a view
          if (sum.defined()) sum.add_(g);
          else sum = g.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
          g = torch::Tensor();
        }
        if (!sum.defined()) continue;
        auto& acc = params[j].mutable_grad();
        if (acc.defined()) acc.add_(sum);
        else acc = sum.to(params[j].scalar_type());
      }
    }
    times.backward += seconds_since(tb);
    return logged_numbers(lp, completions.mask);
  }

  // The numbers a loss pass logs (see loss_pass), crossing to the host together.
  static std::vector<double> logged_numbers(const LossParts& p, const torch::Tensor& mask) {
    const auto logged = torch::stack({p.total.detach(), p.kl_ref.detach(), p.kl_prcp.detach(), p.policy.detach(),
                                      p.clip_fraction.detach(), p.entropy.detach(), mask.sum().to(torch::kFloat32)})
                            .to(torch::kCPU, torch::kFloat64);
    const auto* v = logged.data_ptr<double>();
    return std::vector<double>(v, v + 7);
  }

  model::VisualEmbeds encode_counted(model::Policy& p, const std::vector<const Image*>& images) {
    images_encoded_ += static_cast<std::int64_t>(images.size());
    if (in_parts_) return encode_each_alone(p, images);
    return p.encode_images(p.preprocess(images));
  }

  // Without gradients, each image encoded alone on one core (the steps in parts: an image's encoding is then the
  // same with any thread count and whatever images share its batch), the images spread over the threads.
  static model::VisualEmbeds encode_each_alone(model::Policy& p, const std::vector<const Image*>& images) {
    std::vector<model::VisualEmbeds> one(images.size());
    const bool inference = model::InferenceGraphScope::active();
    parallel_for(images.size(), at::get_num_threads(), [&](std::size_t i, int) {
      const torch::NoGradGuard no_grad;  // grad mode and the inference-graph scope are per thread: the caller's
      const model::InferenceGraphScope scope(inference);
      at::internal::lazy_init_num_threads();  // a new thread's first parallel op would set torch's count again
      const OpenMPThreadsWhile one_core(1);
      one[i] = p.encode_images(p.preprocess({images[i]}));
    });
    model::VisualEmbeds out;
    out.offsets.push_back(0);
    std::vector<torch::Tensor> embeds;
    for (auto& v : one) {
      embeds.push_back(v.embeds);
      out.offsets.push_back(out.offsets.back() + v.tokens(0));
      out.grid.push_back(v.grid.at(0));
    }
    out.embeds = embeds.empty() ? torch::Tensor() : torch::cat(embeds, 0);
    return out;
  }

  Run& r_;
  const GrpoConfig& cfg_;
  std::int64_t images_encoded_ = 0;
  RewardSet rewards_;
  std::int64_t K_ = 1, mu_ = 1;
  bool perception_ = false, on_the_fly_ = false;
  bool vision_fixed_ = false;       // every "visual." parameter frozen: encode each image once per rollout batch
  bool ref_shares_vision_ = false;  // ... and the reference's tower has the same weights: it reuses that encoding
  // A small language model on the CPU with the vision tower fixed: the rollouts are generated and the loss is
  // computed in parts, each alone on one core, fixed by the batch: the step's values do not depend on the thread
  // count (thread_count_free).
  bool in_parts_ = false;
  model::SamplingParams sampling_;
  UadoOptions uado_;
  LossOptions loss_;
  PairOptions pair_options_;
  std::vector<Rollout> rollouts_;
};

}  // namespace

std::unique_ptr<TrainStep> make_grpo_step(Run& r) { return std::make_unique<GrpoStep>(r); }

}  // namespace detail
}  // namespace hawkeye::rl
