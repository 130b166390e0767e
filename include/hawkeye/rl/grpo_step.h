// The phases of one GRPO rollout batch that need no model (docs/method.md §2–4): the generated sequences are
// scored (rewards, the answers UADO reads), turned into group advantages (optionally UADO-weighted), and packed
// into the padded rows the log-prob passes read. The trainer (src/rl/grpo_step.cpp) runs them between
// `collect_rollouts` (images → generate) and `loss_pass` (log-probs → Q-Hawkeye loss → backward).
//
// Row layout everywhere: B requests (images) × K samples, row = request · K + sample, whatever order the
// generator returned the sequences in.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "hawkeye/model/generate.h"
#include "hawkeye/model/policy.h"
#include "hawkeye/rl/advantages.h"
#include "hawkeye/rl/rewards.h"

namespace hawkeye::rl {

struct ScoredRollouts {
  torch::Tensor rewards;  // [B, K] float64: Σ weight · reward
  torch::Tensor scores;   // [B, K] float32: the answer as UADO reads it, NaN where it gives none
  std::vector<std::vector<double>> parts;  // per reward of the set: its unweighted value of every sequence
  std::int64_t longest = 1;     // the longest completion in tokens (at least 1: the padded width)
  std::int64_t gen_tokens = 0;  // generated tokens in all
  std::int64_t failures = 0;    // sequences whose answer the accuracy reward could not read
};

// score_rollouts: every (request, sample) of B × K must appear exactly once (an internal error otherwise);
// targets[request] is the ground-truth score of that request's image.
ScoredRollouts score_rollouts(const std::vector<model::GeneratedSequence>& seqs, std::int64_t B, std::int64_t K,
                              const RewardSet& rewards, const std::vector<double>& targets);

struct GroupAdvantages {
  torch::Tensor advantages;  // [B, K] float64: group advantages, times the group's UADO weight when on
  torch::Tensor weights;     // [B] float32: the UADO weights (1 when UADO is off)
};

GroupAdvantages compute_advantages(const ScoredRollouts& scored, bool uado, const UadoOptions& options);

struct PackedRollouts {
  model::PromptBatch prompts;          // B·K rows: the request's prompt, image index = request
  model::CompletionBatch completions;  // [B·K, longest]: the generated ids (stop token included), mask true on them
  torch::Tensor old_logp;              // [B·K, longest] float32: the sampler's log-probs, 0 on padding
};

// Rows in the layout above; `prompts[request]` is the request's prompt. An empty completion is a row of padding
// (its mask all false).
PackedRollouts pack_completions(const std::vector<model::GeneratedSequence>& seqs, const std::vector<std::vector<std::int64_t>>& prompts,
                                std::int64_t K, std::int64_t longest);

// The rollout statistics of one micro-batch as logged in metrics.jsonl (docs/training.md): reward_<name>_mean/std
// per reward, reward_mean/std, parse_failure_rate, advantage_abs_mean/std, zero_advantage_groups (the fraction of
// groups whose rewards are all equal), uado_weight_mean/min,
// completion_tokens_mean, rollout_tokens, rollout_seconds.
nlohmann::ordered_json rollout_stats(const ScoredRollouts& scored, const GroupAdvantages& adv, const std::vector<std::string>& reward_names,
                                     double rollout_seconds);

// The statistics of the accumulation micro-batches, merged into a step's record: means, except the minimum of
// uado_weight_min; rollout_tokens_per_s (summed tokens / summed seconds) on steps that made new rollouts.
void merge_rollout_stats(const std::vector<nlohmann::ordered_json>& stats, bool new_rollouts, nlohmann::ordered_json& record);

}  // namespace hawkeye::rl
