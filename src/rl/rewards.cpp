#include "hawkeye/rl/rewards.h"

#include "hawkeye/core/error.h"

namespace hawkeye::rl {

namespace {

// A registry entry as a Reward: its name and its function.
class RegisteredReward : public Reward {
 public:
  RegisteredReward(const RewardEntry& e, RewardConfig c) : e_(e), c_(c) {}
  std::string name() const override { return e_.name; }
  double compute(const RewardInput& in) const override { return e_.compute(in, c_); }

 private:
  const RewardEntry& e_;
  RewardConfig c_;
};

}  // namespace

// THE list of rewards. Adding one: a line here (name, its weight key in [rewards], its function) and the
// weight's field in RewardsSection (rl/train_config.h, default and range). Everything else — the config key
// rewards.<name>, the per-reward columns reward_<name> of metrics.jsonl, the sum — follows from this table.
const std::vector<RewardEntry>& reward_registry() {
  static const std::vector<RewardEntry> table = {
      {"accuracy", &RewardsSection::accuracy,
       [](const RewardInput& in, const RewardConfig& c) { return accuracy_reward(in.answer, in.target, c); }},
      {"format", &RewardsSection::format, [](const RewardInput& in, const RewardConfig& c) { return format_reward(in.completion, c); }},
      {"repetition", &RewardsSection::repetition,
       [](const RewardInput& in, const RewardConfig& c) { return repetition_reward(in.completion, c); }},
  };
  return table;
}

namespace {
std::shared_ptr<Reward> registered(const std::string& name, const RewardConfig& c) {
  for (const auto& e : reward_registry())
    if (name == e.name) return std::make_shared<RegisteredReward>(e, c);
  throw Error(ErrorCode::invalid_argument, "no reward named '" + name + "'");
}
}  // namespace

std::shared_ptr<Reward> accuracy_reward_fn(const RewardConfig& c) { return registered("accuracy", c); }
std::shared_ptr<Reward> format_reward_fn(const RewardConfig& c) { return registered("format", c); }
std::shared_ptr<Reward> repetition_reward_fn(const RewardConfig& c) { return registered("repetition", c); }

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
  for (const auto& e : reward_registry()) {
    double weight = w.*e.weight;
    // The repetition ablation switch: loss.repetition = false weights it 0 (still logged).
    if (std::string_view(e.name) == "repetition" && !config.loss.repetition) weight = 0.0;
    set.add(std::make_shared<RegisteredReward>(e, c), weight);
  }
  return set;
}

}  // namespace hawkeye::rl
