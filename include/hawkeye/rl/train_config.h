// The configs of `hawkeye sft` (SftConfig) and `hawkeye train` (GrpoConfig), typed: the member initialisers
// below are the only defaults (docs/training.md §Configuration keys lists the same keys and defaults, checked by
// a test). from_config reads a Config (a TOML/JSON file plus key=value overrides) and checks all of it before any
// work: unknown keys (naming the closest valid key), wrong types, values outside each key's range and non-finite
// numbers are refused together in one invalid_argument error, each as "key = value: expected …".
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "hawkeye/core/config.h"

namespace hawkeye::rl {

enum class TrainKind { sft, grpo };

// A default that differs between the commands: by_kind(kind, sft value, train value).
template <typename T>
T by_kind(TrainKind kind, T sft, T grpo) {
  return kind == TrainKind::grpo ? grpo : sft;
}

struct RunSection {
  explicit RunSection(TrainKind k) : kind(k) {}
  TrainKind kind;  // whose defaults (not a key)
  std::string dir = by_kind<std::string>(kind, "runs/sft", "runs/grpo");
  std::uint64_t seed = 0;
  int threads = 0;              // 0 = all cores
  std::int64_t log_every = 10;  // >= 1
  std::string device = "cpu";   // cpu, cuda, cuda:N (checked by model::parse_device)
  std::string dtype = "float32";  // float32 (fp32) or bfloat16 (bf16)
  double dist_timeout_s = 300;    // > 0 (docs/distributed.md)
  double dist_bucket_mb = 25;     // >= 0
  std::string dist_backend = "auto";  // auto, gloo, nccl
};

struct ModelSection {
  std::string init = "scratch";  // a model directory or shipped name; "scratch" = a new model from the next three
  std::string architecture;      // required with init = "scratch"
  std::string hawkeye_json;      // required with init = "scratch"
  std::string tokenizer;         // required with init = "scratch"
  std::string vision_init;       // optional, init = "scratch" only
};

struct DataSection {
  std::string train;           // required
  std::string val;             // "" = no validation
  std::int64_t val_max = 240;  // 0 = every row
  std::int64_t val_batch = 16;
};

struct TrainSection {
  explicit TrainSection(TrainKind k) : kind(k) {}
  TrainKind kind;  // whose defaults (not a key)
  double epochs = by_kind(kind, 10.0, 15.0);  // used when steps = 0
  std::int64_t steps = 0;                     // 0 = from epochs
  std::int64_t batch_size = by_kind<std::int64_t>(kind, 32, 8);
  std::int64_t grad_accum = by_kind<std::int64_t>(kind, 1, 2);
  double lr = by_kind(kind, 1e-3, 5e-6);
  std::int64_t warmup_steps = by_kind<std::int64_t>(kind, 100, 50);
  double weight_decay = by_kind(kind, 0.01, 0.0);
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double max_grad_norm = by_kind(kind, 1.0, 0.1);  // 0 = no clipping
  std::int64_t checkpoint_every = by_kind<std::int64_t>(kind, 500, 100);  // 0 = only at the end
  int keep_last = 2;                                                      // 0 = keep every checkpoint
  std::int64_t val_every = by_kind<std::int64_t>(kind, 500, 100);         // 0 = only at the end
  std::int64_t max_nonfinite = 10;
  bool cache_visual = true;  // SFT only
  double cache_visual_mb = 4096;
  std::vector<std::string> freeze;  // parameter-name prefixes kept fixed
};

struct AugmentSection {
  explicit AugmentSection(TrainKind k) : kind(k) {}
  TrainKind kind;         // whose defaults (not a key)
  std::vector<int> crop;  // [] = whole images, or [width, height] (an image smaller than that is not cropped there)
  bool hflip = by_kind(kind, true, false);
  bool vflip = false;
  bool rot90 = false;
};

struct SftSection {
  int score_decimals = 2;    // 0..4
  double aux_weight = 0.0;   // >= 0
  double text_weight = 1.0;  // >= 0; 0 = no language-model pass (not both weights 0)
  double think_noise = 0.0;  // [0, 1]
  // > 0: a ranking loss on the auxiliary head's scores, weight * mean(max(0, margin - (score(image) -
  // score(twin)))) over the rows with a degraded twin (`hawkeye pairs`): the same photo, visibly worse, must score
  // at least `margin` lower. Needs an auxiliary head; the twins are encoded with the images (twice the vision work).
  double twin_rank_weight = 0.0;  // >= 0
  double twin_rank_margin = 0.25; // >= 0
  // What the answer of a training row says: "label" (the row's score) or "auxiliary_head" (the model's own
  // auxiliary head's score of the image, computed without gradient from the same visual tokens: the answer
  // then carries the encoder's estimate of this image, not the mean of its (type, level) class).
  std::string answer_target = "label";
};

struct RolloutSection {
  std::int64_t k = 4;  // >= 2 (group advantages)
  double temperature = 1.0;  // > 0
  std::int64_t top_k = 50;   // 0 = no cut
  double top_p = 1.0;        // (0, 1]
  std::int64_t max_new_tokens = 2048;
};

struct LossSection {
  double beta = 0.04;
  bool ref_kl = true;
  bool uado = true;
  double alpha = 0.2;
  bool perception = true;
  double gamma0 = 1e-4;
  double gamma_epochs = 5.0;  // 0 = γ stays γ0 (the reference's meaning)
  std::int64_t mu = 1;        // >= 1
  double clip_low = 0.2;
  double clip_high = 0.28;
  double entropy_eta = 0.0;
  bool repetition = true;
  bool freeze_norm = true;
};

// The weight of every reward of rl/rewards.cpp's reward_registry() at its default (defined there, so that the
// registry is the one place a reward is declared).
std::map<std::string, double, std::less<>> default_reward_weights();

// [rewards]: a weight per registered reward (key rewards.<name>; accuracy, format and repetition are built in)
// and the rules' parameters (text/answer.h RewardConfig).
struct RewardsSection {
  std::map<std::string, double, std::less<>> weights = default_reward_weights();
  double tau = 0.30;
  double format_value = 0.8;
  int repetition_threshold = 5;
  double repetition_scale = 0.25;
  double repetition_floor = -2.0;
};

struct RewardSection {
  std::string rule = "reference";  // reference or strict (text/answer.h)
};

struct PairsSection {
  bool on_the_fly = false;
  double threshold = 0.90;  // SSIM, used with on_the_fly
};

// The sections both commands read.
struct CommonConfig {
  explicit CommonConfig(TrainKind k) : kind(k), run(k), train(k), augment(k) {}
  TrainKind kind;
  std::string source = "<config>";  // the config's file name, for messages
  RunSection run;
  ModelSection model;
  DataSection data;
  TrainSection train;
  AugmentSection augment;
};

struct SftConfig : CommonConfig {
  SftConfig() : CommonConfig(TrainKind::sft) {}
  SftSection sft;

  static SftConfig from_config(const Config& config);
  // Every key with its value ({section: {key: value}}): what the run's config.toml holds.
  nlohmann::json to_json() const;
};

struct GrpoConfig : CommonConfig {
  GrpoConfig() : CommonConfig(TrainKind::grpo) {}
  RolloutSection rollout;
  LossSection loss;
  RewardsSection rewards;
  RewardSection reward;
  PairsSection pairs;

  static GrpoConfig from_config(const Config& config);
  nlohmann::json to_json() const;
};

using TrainConfig = std::variant<SftConfig, GrpoConfig>;

// kind = "sft" or "grpo" (errors: invalid_argument), and back.
TrainKind train_kind_from_name(const std::string& kind);
const char* train_kind_name(TrainKind kind);
// Reads and checks the config of either command.
TrainConfig read_train_config(const Config& config, const std::string& kind);
const CommonConfig& common_config(const TrainConfig& config);
// Every key of the command with its value (Config::to_toml gives the run's config.toml).
Config to_config(const TrainConfig& config);

}  // namespace hawkeye::rl
