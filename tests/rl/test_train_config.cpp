// The typed training configs (rl/train_config.h): every bad value of a key is refused before anything is read
// or written, with the key, the value and the allowed range in the message; documented special values are
// accepted; the shipped configs load; docs/training.md lists exactly the keys and defaults of the structs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/rl/train_config.h"
#include "hawkeye/rl/trainer.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

// A config that passes the checks (its files need not exist: nothing is read before the checks).
Config base_config(const fs::path& run_dir) {
  return Config::parse_toml("[run]\ndir = \"" + run_dir.string() +
                                "\"\n[model]\ninit = \"scratch\"\narchitecture = \"arch.json\"\nhawkeye_json = \"hawkeye.json\"\n"
                                "tokenizer = \"tokenizer.json\"\n[data]\ntrain = \"train.jsonl\"\n",
                            "case.toml");
}

// "key = literal; key = literal" (TOML literals: nan, inf, [64], 'maybe'), set on the base config.
Config with(const fs::path& run_dir, const std::string& assignments) {
  auto c = base_config(run_dir);
  std::istringstream in(assignments);
  std::string one;
  while (std::getline(in, one, ';')) {
    const auto eq = one.find('=');
    auto key = one.substr(0, eq);
    key.erase(0, key.find_first_not_of(' '));
    key.erase(key.find_last_not_of(' ') + 1);
    c.set(key, toml_to_json("v = " + one.substr(eq + 1), "case")["v"]);
  }
  return c;
}

struct Case {
  const char* kind;         // "sft" or "grpo"
  const char* assignments;  // see with()
  const char* expected;     // a part of the message; nullptr = accepted (a documented meaning)
};

// Issue 18 item 11 and issue 16 §3, case by case. Decisions: lr must be > 0; steps = 0 means "from epochs";
// temperature 0 is refused (the sampler would read it as 1, not greedy); the *_every keys, max_grad_norm,
// keep_last, val_max, threads, top_k and gamma_epochs take 0 as a documented meaning; negative values of every
// count, rate and weight are refused; a crop larger than an image leaves that image whole.
const Case kCases[] = {
    {"sft", "train.lr = 0", "train.lr = 0: expected a number > 0"},
    {"sft", "train.lr = -1", "train.lr = -1: expected a number > 0"},
    {"sft", "train.lr = nan", "train.lr = nan: expected a finite number > 0"},
    {"grpo", "train.lr = inf", "train.lr = inf: expected a finite number > 0"},
    {"sft", "train.lr = ''", "train.lr = '': expected a number > 0"},
    {"grpo", "train.lr = 'fast'", "train.lr = 'fast': expected a number > 0"},
    {"sft", "train.steps = -1", "train.steps = -1: expected an integer >= 0"},
    {"sft", "train.steps = 2.5", "train.steps = 2.5: expected an integer >= 0"},
    {"sft", "train.steps = 0; train.epochs = 0", "train.epochs = 0: expected > 0 when train.steps = 0"},
    {"sft", "train.steps = 3; train.epochs = 0", nullptr},
    {"sft", "train.epochs = -1", "train.epochs = -1: expected a number >= 0"},
    {"grpo", "rollout.temperature = -0.5", "rollout.temperature = -0.5: expected a number > 0"},
    {"grpo", "rollout.temperature = 0", "rollout.temperature = 0: expected a number > 0"},
    {"grpo", "rollout.top_p = 0", "rollout.top_p = 0: expected a number in (0, 1]"},
    {"grpo", "rollout.top_p = 1.5", "rollout.top_p = 1.5: expected a number in (0, 1]"},
    {"grpo", "rollout.top_p = nan", "rollout.top_p = nan: expected a finite number in (0, 1]"},
    {"grpo", "rollout.top_p = 1", nullptr},
    {"grpo", "rollout.top_k = 0", nullptr},
    {"grpo", "loss.alpha = -0.1", "loss.alpha = -0.1: expected a number >= 0"},
    {"sft", "train.adam_beta1 = 1", "train.adam_beta1 = 1: expected a number in [0, 1)"},
    {"sft", "train.adam_beta1 = -0.1", "train.adam_beta1 = -0.1: expected a number in [0, 1)"},
    {"grpo", "train.adam_beta2 = 1.0", "train.adam_beta2 = 1.0: expected a number in [0, 1)"},
    {"grpo", "train.adam_beta2 = 0", nullptr},
    {"sft", "train.weight_decay = -0.01", "train.weight_decay = -0.01: expected a number >= 0"},
    {"sft", "train.warmup_steps = -1", "train.warmup_steps = -1: expected an integer >= 0"},
    {"sft", "train.max_grad_norm = -1", "train.max_grad_norm = -1: expected a number >= 0"},
    {"sft", "train.max_grad_norm = 0", nullptr},
    {"sft", "train.checkpoint_every = -1", "train.checkpoint_every = -1: expected an integer >= 0"},
    {"sft", "train.checkpoint_every = 0", nullptr},
    {"sft", "train.val_every = -1", "train.val_every = -1: expected an integer >= 0"},
    {"sft", "train.val_every = 0", nullptr},
    {"sft", "train.keep_last = -1", "train.keep_last = -1: expected an integer >= 0"},
    {"sft", "train.max_nonfinite = -1", "train.max_nonfinite = -1: expected an integer >= 0"},
    {"sft", "data.val_max = -1", "data.val_max = -1: expected an integer >= 0"},
    {"sft", "data.val_max = 0", nullptr},
    {"sft", "data.val_batch = 0", "data.val_batch = 0: expected an integer >= 1"},
    {"grpo", "loss.gamma_epochs = -1", "loss.gamma_epochs = -1: expected a number >= 0"},
    {"grpo", "loss.gamma_epochs = 0", nullptr},
    {"grpo", "loss.gamma0 = -1e-4", "loss.gamma0 = -0.0001: expected a number >= 0"},
    {"sft", "run.threads = -1", "run.threads = -1: expected an integer >= 0"},
    {"sft", "run.threads = 0", nullptr},
    {"sft", "run.seed = -1", "run.seed = -1: expected an integer >= 0"},
    {"sft", "augment.crop = [64]", "augment.crop = [64]: expected [] (whole images) or [width, height] with both >= 1"},
    {"sft", "augment.crop = [0, 0]", "augment.crop = [0,0]: expected [] (whole images) or [width, height]"},
    {"sft", "augment.crop = [64, 48.5]", "augment.crop = [64,48.5]: expected []"},
    {"sft", "augment.crop = [100000, 100000]", nullptr},
    {"sft", "sft.score_decimals = 5", "sft.score_decimals = 5: expected an integer in [0, 4]"},
    {"sft", "sft.score_decimals = -1", "sft.score_decimals = -1: expected an integer in [0, 4]"},
    {"sft", "sft.score_decimals = 0", nullptr},
    {"sft", "run.log_every = 0", "run.log_every = 0: expected an integer >= 1"},
    {"grpo", "loss.mu = 0", "loss.mu = 0: expected an integer >= 1"},
    {"grpo", "rollout.k = 1", "rollout.k = 1: expected an integer >= 2"},
    {"grpo", "rollout.k = 'four'", "rollout.k = 'four': expected an integer >= 2"},
    {"grpo", "rollout.max_new_tokens = 0", "rollout.max_new_tokens = 0: expected an integer >= 1"},
    {"sft", "sft.think_noise = 1.5", "sft.think_noise = 1.5: expected a number in [0, 1]"},
    {"sft", "sft.think_noise = -0.1", "sft.think_noise = -0.1: expected a number in [0, 1]"},
    {"sft", "sft.answer_target = 'head'", "sft.answer_target = 'head': expected one of label, auxiliary_head"},
    {"sft", "sft.text_weight = -1", "sft.text_weight = -1: expected a number >= 0"},
    {"sft", "sft.text_weight = 0; sft.aux_weight = 0", "sft.text_weight, sft.aux_weight and sft.twin_rank_weight are all 0: nothing to train"},
    {"sft", "sft.text_weight = 0; sft.aux_weight = 1", nullptr},
    {"sft", "sft.aux_weight = -1", "sft.aux_weight = -1: expected a number >= 0"},
    {"sft", "sft.twin_rank_weight = -0.5", "sft.twin_rank_weight = -0.5: expected a number >= 0"},
    {"sft", "sft.twin_rank_margin = -1", "sft.twin_rank_margin = -1: expected a number >= 0"},
    {"sft", "sft.text_weight = 0; sft.aux_weight = 0; sft.twin_rank_weight = 1", nullptr},
    {"sft", "data.train = ''", "data.train: required"},
    {"grpo", "model.architecture = ''", "model.architecture: required with model.init = 'scratch'"},
    {"grpo", "model.architecture = ''; model.init = 'models/hawkeye-tiny'", nullptr},
    {"sft", "model.init = ''", "model.init = '': expected a non-empty string"},
    {"grpo", "loss.uado = 'maybe'", "loss.uado = 'maybe': expected a boolean"},
    {"grpo", "loss.uado = 1", "loss.uado = 1: expected a boolean"},
    {"sft", "train.freeze = 'visual.'", "train.freeze = 'visual.': expected an array of strings"},
    {"sft", "run.dtype = 'float16'", "run.dtype = 'float16': expected one of float32, fp32, bfloat16, bf16"},
    {"grpo", "reward.rule = 'loose'", "reward.rule = 'loose': expected one of reference, strict"},
    {"grpo", "run.dist_timeout_s = 0", "run.dist_timeout_s = 0: expected a number > 0"},
    {"grpo", "run.dist_backend = 'mpi'", "run.dist_backend = 'mpi': expected one of auto, gloo, nccl"},
    {"grpo", "pairs.threshold = 1.5", "pairs.threshold = 1.5: expected a number in [0, 1]"},
    {"grpo", "rewards.tau = 0", "rewards.tau = 0: expected a number > 0"},
    {"grpo", "rewards.repetition_floor = 1", "rewards.repetition_floor = 1: expected a number <= 0"},
    {"sft", "train.batch_size = 3; train.grad_accum = 2", "train.batch_size = 3: expected a multiple of train.grad_accum (2)"},
    {"sft", "train.batch_size = 0", "train.batch_size = 0: expected an integer >= 1"},
    {"sft", "train = 5", "train = 5: expected a table of keys"},
    {"sft", "train.lrr = 1e-3", "train.lrr: unknown key; did you mean train.lr?"},
    {"grpo", "trian.lr = 1e-3", "trian.lr: unknown key; did you mean train.lr?"},
    {"grpo", "lr = 1e-3", "lr: unknown key; did you mean train.lr?"},
    {"grpo", "loss.uadoo = true", "loss.uadoo: unknown key; did you mean loss.uado?"},
    {"sft", "rollout.k = 4", "rollout.k: a key of `hawkeye train`, not of `hawkeye sft`"},
    {"grpo", "sft.think_noise = 0.1", "sft.think_noise: a key of `hawkeye sft`, not of `hawkeye train`"},
};

}  // namespace

TEST(TrainConfig, EachBadValueIsRefusedBeforeTheRunFolderIsMade) {
  test::TempDir dir;
  ASSERT_NO_THROW(rl::read_train_config(base_config(dir.path() / "run"), "sft"));
  ASSERT_NO_THROW(rl::read_train_config(base_config(dir.path() / "run"), "grpo"));
  int i = 0;
  for (const auto& c : kCases) {
    SCOPED_TRACE(std::string(c.kind) + ": " + c.assignments);
    const auto run = dir.path() / ("run" + std::to_string(i++));
    const auto config = with(run, c.assignments);
    if (!c.expected) {
      EXPECT_NO_THROW(rl::read_train_config(config, c.kind));
      continue;
    }
    try {
      rl::train(config, c.kind);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << e.what();
      const std::string message = e.what();
      EXPECT_NE(message.find(c.expected), std::string::npos) << message;
      EXPECT_EQ(message.rfind("case.toml: ", 0), 0u) << message;
      if (std::string(c.expected).find("both 0") == std::string::npos) EXPECT_EQ(message.find("both 0"), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(run)) << run;
  }
}

// Every problem of a config is named at once; an empty config names what it lacks (not ": no such file").
TEST(TrainConfig, AllProblemsAreReportedTogether) {
  try {
    rl::read_train_config(Config::parse_toml("", "empty.toml"), "sft");
    FAIL() << "an empty config was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("empty.toml: 4 problems:", 0), 0u) << m;
    for (const char* part : {"data.train: required", "model.architecture: required with model.init = 'scratch'",
                             "model.hawkeye_json: required", "model.tokenizer: required"}) {
      EXPECT_NE(m.find(part), std::string::npos) << part << " in " << m;
    }
    EXPECT_EQ(m.find("no such file"), std::string::npos) << m;
  }
  test::TempDir dir;
  auto c = with(dir.path() / "r", "train.lr = nan; loss.uado = 'maybe'; rollout.k = 1; rollout.max_new_tokens = 0");
  try {
    rl::read_train_config(c, "grpo");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 problems"), std::string::npos) << e.what();
  }
}

// key=value overrides (Config::apply_override, as on the command line) are read like the file's values.
TEST(TrainConfig, OverridesAreCheckedLikeTheFile) {
  test::TempDir dir;
  auto c = base_config(dir.path() / "r");
  c.apply_override("train.lr=2e-4");
  c.apply_override("loss.uado=false");
  c.apply_override("augment.crop=[32,24]");
  const auto g = std::get<rl::GrpoConfig>(rl::read_train_config(c, "grpo"));
  EXPECT_EQ(g.train.lr, 2e-4);
  EXPECT_FALSE(g.loss.uado);
  EXPECT_EQ(g.augment.crop, (std::vector<int>{32, 24}));
  c.apply_override("train.lr=");  // an empty value is a string, not a number
  EXPECT_THROW(rl::read_train_config(c, "grpo"), Error);
}

// The resolved config (the run's config.toml) holds every key and reads back to the same config.
TEST(TrainConfig, TheResolvedConfigReadsBackUnchanged) {
  test::TempDir dir;
  for (const char* kind : {"sft", "grpo"}) {
    const auto resolved = rl::resolve_train_config(with(dir.path() / "r", "train.lr = 3e-4; augment.crop = [8, 6]"), kind);
    const auto again = Config::parse_toml(resolved.to_toml(), "config.toml");
    EXPECT_EQ(rl::to_config(rl::read_train_config(again, kind)).root(), resolved.root()) << kind;
    EXPECT_EQ(resolved.get<double>("train.lr", 0), 3e-4);
  }
}

// The defaults differ by command where the trainer's always did (GRPO: the reference run).
TEST(TrainConfig, DefaultsOfEachCommand) {
  const rl::SftConfig s;
  const rl::GrpoConfig g;
  EXPECT_EQ(s.run.dir, "runs/sft");
  EXPECT_EQ(g.run.dir, "runs/grpo");
  EXPECT_EQ(s.train.lr, 1e-3);
  EXPECT_EQ(g.train.lr, 5e-6);
  EXPECT_EQ(g.train.epochs, 15.0);
  EXPECT_EQ(g.rollout.max_new_tokens, 2048);
  EXPECT_TRUE(s.augment.hflip);
  EXPECT_FALSE(g.augment.hflip);
  EXPECT_EQ(g.train.checkpoint_every, 100);
  EXPECT_EQ(s.train.checkpoint_every, 500);
}

// Each shipped config loads for its command.
TEST(TrainConfig, ShippedConfigsLoad) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(test::source_dir() / "configs")) {
    if (e.path().extension() != ".toml") continue;
    const auto name = e.path().filename().string();
    const bool grpo = name.find("grpo") != std::string::npos || name.find("qhawkeye") != std::string::npos;
    EXPECT_NO_THROW(rl::read_train_config(Config::load(e.path()), grpo ? "grpo" : "sft")) << name;
    ++n;
  }
  EXPECT_GE(n, 5u);
}

namespace {

// docs/training.md §Configuration keys: `| `key` | sft default | train default | meaning |`, "—" where the key is
// not one of that command's.
std::map<std::string, std::pair<std::string, std::string>> documented_keys() {
  std::ifstream in(test::source_dir() / "docs" / "training.md");
  std::map<std::string, std::pair<std::string, std::string>> rows;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) inside = line == "## Configuration keys";
    if (!inside || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream cols(line.substr(1));
    std::string cell;
    while (std::getline(cols, cell, '|')) {
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    EXPECT_GE(cells.size(), 4u) << line;
    if (cells.size() < 4) continue;
    const auto key = cells[0].substr(1, cells[0].size() - 2);
    EXPECT_TRUE(rows.emplace(key, std::pair{cells[1], cells[2]}).second) << "listed twice: " << key;
  }
  return rows;
}

// A default cell against the struct's value: its first word ("0 (all cores)" -> 0); "" is an empty string.
bool same_default(const std::string& cell, const nlohmann::json& value) {
  const auto word = cell.substr(0, cell.find(' '));
  if (value.is_string()) return word == value.get<std::string>();
  if (value.is_boolean()) return word == (value.get<bool>() ? "true" : "false");
  if (value.is_array()) return word == value.dump();
  try {
    std::size_t used = 0;
    const double d = std::stod(word, &used);
    return used == word.size() && d == value.get<double>();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST(TrainConfig, DocsListExactlyTheKeysAndDefaults) {
  const auto rows = documented_keys();
  ASSERT_FALSE(rows.empty());
  std::map<std::string, int> seen;
  for (const auto& [column, all] : {std::pair{0, rl::SftConfig().to_json()}, std::pair{1, rl::GrpoConfig().to_json()}}) {
    for (auto s = all.begin(); s != all.end(); ++s) {
      for (auto k = s->begin(); k != s->end(); ++k) {
        const auto key = s.key() + "." + k.key();
        ++seen[key];
        const auto row = rows.find(key);
        if (row == rows.end()) {
          ADD_FAILURE() << key << " is not in docs/training.md";
          continue;
        }
        const auto& cell = column == 0 ? row->second.first : row->second.second;
        EXPECT_TRUE(same_default(cell, *k)) << key << ": docs say '" << cell << "', the " << (column == 0 ? "sft" : "train")
                                            << " default is " << k->dump();
      }
    }
    for (const auto& [key, cells] : rows) {
      const auto dot = key.find('.');
      const bool here = all.contains(key.substr(0, dot)) && all[key.substr(0, dot)].contains(key.substr(dot + 1));
      const auto& cell = column == 0 ? cells.first : cells.second;
      if (!here) EXPECT_EQ(cell, "—") << key << " is documented for " << (column == 0 ? "sft" : "train") << " but is not its key";
    }
  }
  for (const auto& [key, cells] : rows) EXPECT_TRUE(seen.count(key)) << key << " is documented but is no key";
}

// Issue 16 §4: a reward's weight is the key rewards.<name> of its registry entry (rl/rewards.cpp), read, checked
// and written back like every other key; a name the registry lacks is an unknown key.
TEST(TrainConfig, RewardWeightsAreTheRegistrysNames) {
  test::TempDir dir;
  auto c = with(dir.path() / "r", "rewards.format = 0.25; rewards.accuracy = 2");
  const auto grpo = std::get<rl::GrpoConfig>(rl::read_train_config(c, "grpo"));
  EXPECT_EQ(grpo.rewards.weights.at("format"), 0.25);
  EXPECT_EQ(grpo.rewards.weights.at("accuracy"), 2.0);
  EXPECT_EQ(grpo.rewards.weights.at("repetition"), 1.0);  // the registry's default
  const Config back = rl::to_config(grpo);
  EXPECT_EQ(back.get<double>("rewards.format", -1), 0.25);
  EXPECT_EQ(back.get<double>("rewards.repetition", -1), 1.0);
  try {
    rl::read_train_config(with(dir.path() / "r", "rewards.brevity = 1"), "grpo");
    FAIL() << "a reward that is not registered was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewards.brevity"), std::string::npos) << e.what();
  }
  try {
    rl::read_train_config(with(dir.path() / "r", "rewards.format = 'high'"), "grpo");
    FAIL() << "a weight that is not a number was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewards.format"), std::string::npos) << e.what();
  }
}
