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

// THE list of rewards. Adding one is a line here: its name (= its config key rewards.<name> and its metrics
// columns reward_<name>_mean/std), its default weight and its function. The config reader, its range check, the
// resolved config.toml, the per-reward logging and the weighted sum all follow from this table (docs/training.md).
const std::vector<RewardEntry>& reward_registry() {
  static const std::vector<RewardEntry> table = {
      {"accuracy", 1.0, [](const RewardInput& in, const RewardConfig& c) { return accuracy_reward(in.answer, in.target, c); }},
      {"format", 1.0, [](const RewardInput& in, const RewardConfig& c) { return format_reward(in.completion, c); }},
      {"repetition", 1.0, [](const RewardInput& in, const RewardConfig& c) { return repetition_reward(in.completion, c); }},
  };
  return table;
}

double reward_weight(const RewardsSection& rewards, const RewardEntry& entry) {
  const auto it = rewards.weights.find(entry.name);
  return it != rewards.weights.end() ? it->second : entry.default_weight;
}

std::map<std::string, double, std::less<>> default_reward_weights() {
  std::map<std::string, double, std::less<>> w;
  for (const auto& e : reward_registry()) w.emplace(e.name, e.default_weight);
  return w;
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
  for (const auto& [name, weight] : w.weights) {  // a weight set in C++ for a name the registry lacks
    bool known = false;
    for (const auto& e : reward_registry()) known = known || name == e.name;
    require(known, ErrorCode::invalid_argument, "rewards." + name + ": no reward of that name (rl/rewards.cpp reward_registry)");
  }
  for (const auto& e : reward_registry()) {
    double weight = reward_weight(w, e);
    // The repetition ablation switch: loss.repetition = false weights it 0 (still logged).
    if (std::string_view(e.name) == "repetition" && !config.loss.repetition) weight = 0.0;
    set.add(std::make_shared<RegisteredReward>(e, c), weight);
  }
  return set;
}

}  // namespace hawkeye::rl
