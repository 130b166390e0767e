// The model-free phases of a GRPO step (rl/grpo_step.h) on hand-made sequences: the row layout request × K +
// sample whatever order the generator returns, masks that end at whichever stop id ended a row, empty
// completions, groups of equal rewards, and the logged statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/rl/grpo_step.h"

using namespace hawkeye;
using namespace hawkeye::rl;

namespace {

model::GeneratedSequence seq(std::int64_t request, std::int64_t sample, std::vector<std::int64_t> tokens, std::string text) {
  model::GeneratedSequence s;
  s.request = request;
  s.sample = sample;
  s.tokens = std::move(tokens);
  for (std::size_t i = 0; i < s.tokens.size(); ++i) s.logprobs.push_back(-0.5f - static_cast<float>(i) - 10.0f * static_cast<float>(request * 10 + sample));
  s.text = std::move(text);
  return s;
}

std::string answer(const std::string& score) { return "<think>some blur</think><answer>" + score + "</answer>"; }

RewardSet default_rewards() { return RewardSet::from_config(GrpoConfig(), ScoreRange{1.0, 5.0}); }

}  // namespace

TEST(GrpoStep, ScoresLandInTheirRowWhateverTheSequenceOrder) {
  // 2 requests x 3 samples, returned sample-major (not the generator's usual request-major order)
  std::vector<model::GeneratedSequence> seqs;
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t b = 0; b < 2; ++b) seqs.push_back(seq(b, k, {1, 2}, answer(std::to_string(1 + b + k) + ".00")));
  seqs[4].text = "no answer at all";  // request 0, sample 2
  const auto rewards = default_rewards();
  const auto scored = score_rollouts(seqs, 2, 3, rewards, {3.0, 4.0});
  ASSERT_EQ(scored.rewards.sizes(), (std::vector<std::int64_t>{2, 3}));
  // accuracy exp(-|s - t| / 0.3) + format 0.8 + repetition 0
  EXPECT_NEAR(scored.rewards[0][0].item<double>(), std::exp(-2.0 / 0.3) + 0.8, 1e-12);   // 1.00 vs 3
  EXPECT_NEAR(scored.rewards[1][1].item<double>(), std::exp(-1.0 / 0.3) + 0.8, 1e-12);   // 3.00 vs 4
  EXPECT_NEAR(scored.rewards[1][2].item<double>(), 1.0 + 0.8, 1e-12);                    // 4.00 vs 4
  EXPECT_NEAR(scored.rewards[0][2].item<double>(), 0.0, 1e-12);                          // unparsable: nothing
  EXPECT_EQ(scored.scores[0][1].item<float>(), 2.0f);
  EXPECT_TRUE(std::isnan(scored.scores[0][2].item<float>()));
  EXPECT_EQ(scored.failures, 1);
  EXPECT_EQ(scored.gen_tokens, 12);
  EXPECT_EQ(scored.longest, 2);
  ASSERT_EQ(scored.parts.size(), rewards.size());
  EXPECT_EQ(scored.parts[0].size(), 6u);
}

TEST(GrpoStep, ScoringRefusesMissingRepeatedOrStrayRows) {
  const auto rewards = default_rewards();
  std::vector<model::GeneratedSequence> seqs{seq(0, 0, {1}, answer("3")), seq(0, 0, {1}, answer("3"))};
  EXPECT_THROW(score_rollouts(seqs, 1, 2, rewards, {3.0}), Error);  // (0, 0) twice, (0, 1) missing
  seqs[1].sample = 2;
  EXPECT_THROW(score_rollouts(seqs, 1, 2, rewards, {3.0}), Error);  // sample outside K
  seqs[1].sample = 1;
  EXPECT_THROW(score_rollouts(seqs, 1, 2, rewards, {}), Error);     // no target
  EXPECT_NO_THROW(score_rollouts(seqs, 1, 2, rewards, {3.0}));
}

TEST(GrpoStep, EqualRewardsGiveZeroAdvantageAndUadoScalesGroups) {
  ScoredRollouts s;
  s.rewards = torch::tensor({{1.0, 1.0, 1.0}, {0.0, 1.0, 2.0}}, torch::kFloat64);
  s.scores = torch::tensor({{3.0f, 3.0f, 3.0f}, {1.0f, 5.0f, 3.0f}});
  const auto off = compute_advantages(s, false, UadoOptions());
  for (int k = 0; k < 3; ++k) EXPECT_EQ(off.advantages[0][k].item<double>(), 0.0);
  EXPECT_NEAR(off.advantages[1][2].item<double>(), 1.0 / (1.0 + 1e-4), 1e-12);
  EXPECT_EQ(off.weights[1].item<float>(), 1.0f);
  const auto on = compute_advantages(s, true, UadoOptions());
  // group 1: scores 1, 5, 3 -> population variance 8/3, u = (8/3) / 4, w = exp(-0.2 u)
  const double w = std::exp(-0.2 * (8.0 / 3.0) / 4.0);
  EXPECT_NEAR(on.weights[1].item<float>(), w, 1e-6);
  EXPECT_NEAR(on.weights[0].item<float>(), 1.0, 1e-7);
  EXPECT_NEAR(on.advantages[1][2].item<double>(), w / (1.0 + 1e-4), 1e-6);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(on.advantages[0][k].item<double>(), 0.0);
}

TEST(GrpoStep, PackedRowsAreRequestTimesKPlusSampleWithMasksToTheStopToken) {
  // stop ids 7 and 9 end rows; request 1 sample 0 generated nothing; returned in reverse order
  const std::int64_t K = 2;
  std::vector<model::GeneratedSequence> seqs{seq(1, 1, {4, 5, 9}, ""), seq(1, 0, {}, ""), seq(0, 1, {3, 7}, ""),
                                             seq(0, 0, {2, 3, 4, 7}, "")};
  const std::vector<std::vector<std::int64_t>> prompts{{100, 101}, {200}};
  const auto p = pack_completions(seqs, prompts, K, 4);
  ASSERT_EQ(p.completions.tokens.sizes(), (std::vector<std::int64_t>{4, 4}));
  const std::vector<std::vector<std::int64_t>> want_tokens{{2, 3, 4, 7}, {3, 7, 0, 0}, {0, 0, 0, 0}, {4, 5, 9, 0}};
  const std::vector<int> want_len{4, 2, 0, 3};
  for (std::int64_t row = 0; row < 4; ++row) {
    SCOPED_TRACE(row);
    for (std::int64_t t = 0; t < 4; ++t) {
      EXPECT_EQ(p.completions.tokens[row][t].item<std::int64_t>(), want_tokens[row][t]);
      EXPECT_EQ(p.completions.mask[row][t].item<bool>(), t < want_len[row]);
      if (t >= want_len[row]) EXPECT_EQ(p.old_logp[row][t].item<float>(), 0.0f);
    }
    EXPECT_EQ(p.prompts.tokens[row], prompts[row / K]);
    EXPECT_EQ(p.prompts.image[row], row / K);
  }
  // the sampler's log-probs follow their tokens: row 3 = request 1, sample 1
  EXPECT_FLOAT_EQ(p.old_logp[3][1].item<float>(), -1.5f - 110.0f);
  EXPECT_THROW(pack_completions(seqs, prompts, K, 3), Error);  // a completion longer than the padded width
}

TEST(GrpoStep, RolloutStatisticsAndTheirMergeAcrossMicroBatches) {
  ScoredRollouts s;
  s.rewards = torch::tensor({{1.0, 3.0}, {2.0, 2.0}}, torch::kFloat64);
  s.scores = torch::tensor({{1.0f, 5.0f}, {2.0f, 2.0f}});
  s.parts = {{1.0, 0.0, 0.5, 0.5}};
  s.failures = 1;
  s.gen_tokens = 40;
  const auto adv = compute_advantages(s, true, UadoOptions());
  const auto st = rollout_stats(s, adv, {"accuracy"}, 2.0);
  EXPECT_DOUBLE_EQ(st["reward_mean"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(st["reward_accuracy_mean"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(st["parse_failure_rate"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(st["completion_tokens_mean"].get<double>(), 10.0);
  EXPECT_NEAR(st["uado_weight_min"].get<double>(), std::exp(-0.2), 1e-6);  // scores 1 and 5: u = 1
  EXPECT_EQ(st["rollout_tokens"].get<std::int64_t>(), 40);
  EXPECT_DOUBLE_EQ(st["zero_advantage_groups"].get<double>(), 0.5);  // group 1: rewards 2 and 2

  nlohmann::ordered_json a = st, b = st;
  a["reward_mean"] = 1.0;
  b["reward_mean"] = 2.0;
  b["uado_weight_min"] = 0.5;
  b["rollout_seconds"] = 6.0;
  nlohmann::ordered_json rec;
  merge_rollout_stats({a, b}, true, rec);
  EXPECT_DOUBLE_EQ(rec["reward_mean"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(rec["uado_weight_min"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(rec["rollout_tokens_per_s"].get<double>(), 80.0 / 8.0);
  EXPECT_FALSE(rec.contains("rollout_tokens"));
  nlohmann::ordered_json again;
  merge_rollout_stats({a, b}, false, again);  // a μ > 1 pass over old rollouts: no new tokens per second
  EXPECT_FALSE(again.contains("rollout_tokens_per_s"));
}

// Issue 16 §4: rewards are a registry of named functions with weights (rl/rewards.h: reward_registry). Each
// entry's weight is the [rewards] key of its name; the set is built from the registry, in its order, and a
// weight (0 included) is the config's.
TEST(Rewards, TheSetIsBuiltFromTheRegistryWithTheConfigsWeights) {
  const auto& registry = reward_registry();
  ASSERT_EQ(registry.size(), 3u);
  const nlohmann::json keys = GrpoConfig().to_json()["rewards"];
  std::vector<std::string> names;
  for (const auto& e : registry) {
    names.push_back(e.name);
    EXPECT_TRUE(keys.contains(e.name)) << "no [rewards] weight key for " << e.name;
  }
  EXPECT_EQ(default_rewards().names(), names);
  GrpoConfig c;
  c.rewards.weights["format"] = 0.0;
  c.rewards.weights["accuracy"] = 2.0;
  const RewardSet set = RewardSet::from_config(c, ScoreRange{1.0, 5.0});
  const auto r = set.evaluate("<think>sharp and clean</think><answer>4.0</answer>", 4.0);
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_DOUBLE_EQ(r.parts[0], 1.0);  // accuracy: exact
  EXPECT_DOUBLE_EQ(r.parts[1], c.rewards.format_value);  // format: well-formed (weight 0, still computed and logged)
  EXPECT_DOUBLE_EQ(r.total, 2.0 * r.parts[0] + 0.0 * r.parts[1] + 1.0 * r.parts[2]);
  c.loss.repetition = false;  // the ablation switch weighs the repetition reward 0
  const std::string repeated = "blur blur blur blur blur blur blur blur blur blur blur blur";  // no answer: all is read
  const auto with_rep = set.evaluate(repeated, 4.0);
  const auto norep = RewardSet::from_config(c, ScoreRange{1.0, 5.0}).evaluate(repeated, 4.0);
  EXPECT_LT(norep.parts[2], 0.0);
  EXPECT_DOUBLE_EQ(norep.parts[2], with_rep.parts[2]);
  EXPECT_DOUBLE_EQ(with_rep.total, 2.0 * with_rep.parts[0] + with_rep.parts[2]);
  EXPECT_DOUBLE_EQ(norep.total, 2.0 * norep.parts[0]);
}
