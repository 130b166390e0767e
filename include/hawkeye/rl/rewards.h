// Rewards of a completion (docs/method.md §2): pluggable and weighted, read by one rule (reward.rule). The
// built-ins are accuracy, format and repetition (weight 1 each: summed, as in the reference); a reward with
// weight 0 is still computed and logged, so ablations show what they switched off.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/rl/train_config.h"
#include "hawkeye/text/answer.h"

namespace hawkeye::rl {

struct RewardInput {
  std::string_view completion;  // decoded text of the completion (special tokens removed)
  const ScoreReading& answer;   // reward_reading(completion) under the set's rule and range
  double target;                // ground-truth score on the model's range
};

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  virtual double compute(const RewardInput& in) const = 0;
};

// The registry of named rewards (as TRL's reward_funcs + reward_weights): each with the [rewards] key that
// weighs it and its function. RewardSet::from_config builds the set from it, in this order.
struct RewardEntry {
  const char* name;        // also its config key, rewards.<name>, and its metrics columns reward_<name>_mean/std
  double default_weight;   // the weight when a config does not set rewards.<name>
  std::function<double(const RewardInput&, const RewardConfig&)> compute;
};
const std::vector<RewardEntry>& reward_registry();
// The weight of `entry` in a config's [rewards]: its rewards.<name>, or the entry's default when the map lacks it.
double reward_weight(const RewardsSection& rewards, const RewardEntry& entry);

std::shared_ptr<Reward> accuracy_reward_fn(const RewardConfig& config);
std::shared_ptr<Reward> format_reward_fn(const RewardConfig& config);
std::shared_ptr<Reward> repetition_reward_fn(const RewardConfig& config);

class RewardSet {
 public:
  struct Result {
    std::vector<double> parts;  // one per reward, unweighted
    double total = 0;           // Σ weight_i · part_i
    ScoreReading answer;        // the answer as the accuracy reward read it
    ScoreReading uado;          // the answer as UADO reads it (uado_reading)
  };
  void add(std::shared_ptr<Reward> reward, double weight);
  Result evaluate(std::string_view completion, double target) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return rewards_.size(); }

  // From the config: reward.rule (how answers and the format are read, text/answer.h), the [rewards] table
  // (weights and the rules' parameters) and loss.repetition (false: the repetition reward weighs 0).
  // `range` is the model's score range: scores and targets are clamped to it.
  static RewardSet from_config(const GrpoConfig& config, ScoreRange range);

  const RewardConfig& config() const { return config_; }

 private:
  RewardConfig config_;
  std::vector<std::pair<std::shared_ptr<Reward>, double>> rewards_;
};

}  // namespace hawkeye::rl
