#include "hawkeye/rl/rewards.h"

namespace hawkeye::rl {

namespace {

class AccuracyReward : public Reward {
 public:
  explicit AccuracyReward(RewardConfig c) : c_(c) {}
  std::string name() const override { return "accuracy"; }
  double compute(const RewardInput& in) const override { return accuracy_reward(in.answer, in.target, c_); }

 private:
  RewardConfig c_;
};

class FormatReward : public Reward {
 public:
  explicit FormatReward(RewardConfig c) : c_(c) {}
  std::string name() const override { return "format"; }
  double compute(const RewardInput& in) const override { return format_reward(in.completion, c_); }

 private:
  RewardConfig c_;
};

class RepetitionReward : public Reward {
 public:
  explicit RepetitionReward(RewardConfig c) : c_(c) {}
  std::string name() const override { return "repetition"; }
  double compute(const RewardInput& in) const override { return repetition_reward(in.completion, c_); }

 private:
  RewardConfig c_;
};

}  // namespace

std::shared_ptr<Reward> accuracy_reward_fn(const RewardConfig& c) { return std::make_shared<AccuracyReward>(c); }
std::shared_ptr<Reward> format_reward_fn(const RewardConfig& c) { return std::make_shared<FormatReward>(c); }
std::shared_ptr<Reward> repetition_reward_fn(const RewardConfig& c) { return std::make_shared<RepetitionReward>(c); }

void RewardSet::add(std::shared_ptr<Reward> reward, double weight) { rewards_.emplace_back(std::move(reward), weight); }

RewardSet::Result RewardSet::evaluate(std::string_view completion, double target) const {
  Result r;
  r.answer = reward_reading(completion, config_);
  r.uado = uado_reading(completion, config_);
  const RewardInput in{completion, r.answer, target};
  for (const auto& [reward, weight] : rewards_) {
    const double v = reward->compute(in);
    r.parts.push_back(v);
    r.total += weight * v;
  }
  return r;
}

std::vector<std::string> RewardSet::names() const {
  std::vector<std::string> n;
  for (const auto& [reward, w] : rewards_) n.push_back(reward->name());
  return n;
}

RewardSet RewardSet::from_config(const GrpoConfig& config, ScoreRange range) {
  RewardConfig c;
  const auto rule = reward_rule_from_name(config.reward.rule);
  if (!rule) {
    throw Error(ErrorCode::invalid_argument, config.source + ": reward.rule '" + config.reward.rule + "': expected \"reference\" or \"strict\"");
  }
  c.rule = *rule;
  c.range = range;
  const auto& w = config.rewards;
  c.tau = w.tau;
  c.format_value = w.format_value;
  c.repetition_threshold = w.repetition_threshold;
  c.repetition_scale = w.repetition_scale;
  c.repetition_floor = w.repetition_floor;
  RewardSet set;
  set.config_ = c;
  set.add(accuracy_reward_fn(c), w.accuracy);
  set.add(format_reward_fn(c), w.format);
  // The repetition ablation switch: loss.repetition = false weights it 0 (still logged).
  set.add(repetition_reward_fn(c), config.loss.repetition ? w.repetition : 0.0);
  return set;
}

}  // namespace hawkeye::rl
