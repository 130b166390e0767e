#include "hawkeye/rl/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::rl {

nlohmann::json TrainerState::to_json() const {
  return {{"step", step}, {"nonfinite", nonfinite}, {"kind", kind}, {"extra", extra}, {"format", "hawkeye-trainer-state-1"}};
}

TrainerState TrainerState::from_json(const nlohmann::json& j, const std::string& source) {
  TrainerState s;
  try {
    if (j.value("format", std::string()) != "hawkeye-trainer-state-1") {
      throw Error(ErrorCode::corrupt_data, source + ": not a hawkeye trainer state");
    }
    s.step = j.at("step").get<std::int64_t>();
    s.nonfinite = j.value("nonfinite", std::int64_t{0});
    s.kind = j.value("kind", std::string());
    s.extra = j.value("extra", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::corrupt_data, source + ": " + e.what());
  }
  if (s.step < 0) throw Error(ErrorCode::corrupt_data, source + ": negative step");
  return s;
}

PathLock claim_run_directory(const std::filesystem::path& run_dir) {
  PathLock lock = lock_directory(run_dir, "run directory " + run_dir.string());
  std::size_t removed = 0;
  for (const auto& dir : {run_dir, run_dir / "checkpoints"}) removed += remove_stale_temporaries(dir).size();
  if (removed > 0) spdlog::info("{}: removed {} temporary file(s) or folder(s) left by a run that stopped mid-write", run_dir.string(), removed);
  return lock;
}

std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return run_dir / "checkpoints" / name;
}

static std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  const auto dir = run_dir / "checkpoints";
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind("step-", 0) == 0 && name.size() == 13 && fs::exists(e.path() / "trainer_state.json", ec)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void save_checkpoint(const std::filesystem::path& run_dir, model::IqaModel& model, const AdamW& optimizer,
                     const TrainerState& state, const std::string& config_toml, int keep) {
  const auto final_dir = checkpoint_dir(run_dir, state.step);
  // A diverged model is not saved over the good ones: training stops here (exit 10) and resumes from those.
  const auto last_good = latest_checkpoint(run_dir);
  model::require_finite_weights(model.policy(), "step " + std::to_string(state.step) + ": checkpoint not written (" +
                                                    (last_good ? "the last good one stays: " + last_good->string() : std::string("no earlier checkpoint")) + ")");
  fs::create_directories(final_dir.parent_path());
  const auto staging = temp_sibling(final_dir);
  // The model directory is itself written atomically into the staging folder's "model" place, then the
  // rest joins it; the staging folder is renamed as a whole.
  model::save_model_dir(staging, model.policy(), model.dir().config, model.contract(), model.dir().tokenizer_json);
  try {
    optimizer.save(staging / "optimizer.safetensors");
    write_file_atomic(staging / "config.toml", config_toml);
    write_file_atomic(staging / "trainer_state.json", state.to_json().dump(2) + "\n");
    publish_directory(staging, final_dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  auto all = list_checkpoints(run_dir);
  for (std::size_t i = 0; keep > 0 && i + static_cast<std::size_t>(keep) < all.size(); ++i) {
    std::error_code ec;
    fs::remove_all(all[i], ec);
  }
}

std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir) {
  auto all = list_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::filesystem::path resolve_checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "trainer_state.json", ec)) return dir;
  auto latest = latest_checkpoint(dir);
  if (!latest) throw Error(ErrorCode::not_found, dir.string() + ": no checkpoint (no trainer_state.json, no checkpoints/step-*)");
  return *latest;
}

bool config_key_changes_trajectory(const std::string& key) {
  // Where and how the same computation runs may differ too: the device and the distributed settings (a
  // checkpoint is written from CPU copies; 2 processes x grad_accum 1 resume as 1 x 2 to the same weights within
  // float rounding: the loss is pooled per image, tests/dist/test_dist_training.cpp).
  static const char* const free_keys[] = {
      "run.dir",          "run.threads",       "run.log_every",         "run.device",         "run.dist_backend",
      "run.dist_timeout_s", "run.dist_bucket_mb", "train.grad_accum",   "train.checkpoint_every", "train.keep_last",
      "train.val_every",  "train.max_nonfinite", "train.cache_visual",  "train.cache_visual_mb", "data.val",
      "data.val_max",     "data.val_batch",
  };
  return std::none_of(std::begin(free_keys), std::end(free_keys), [&](const char* k) { return key == k; });
}

namespace {
// {a: {b: 1}} -> {"a.b": 1}; arrays and scalars are leaves.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(*it, prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out[prefix] = j;
  }
}
bool same_value(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();  // 1 and 1.0 are one value
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same_value(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}
}  // namespace

std::optional<std::vector<ConfigChange>> config_changes_since(const std::filesystem::path& dir, const Config& now) {
  const auto ckpt = resolve_checkpoint(dir);
  std::error_code ec;
  if (!fs::exists(ckpt / "config.toml", ec)) return std::nullopt;
  const Config before = Config::load(ckpt / "config.toml");
  std::map<std::string, nlohmann::json> a, b;
  flatten(before.root(), "", a);
  flatten(now.root(), "", b);
  std::vector<ConfigChange> changes;
  for (const auto& [key, value] : a) {
    if (!config_key_changes_trajectory(key)) continue;
    const auto it = b.find(key);
    if (it == b.end()) {
      changes.push_back({key, value, nullptr});
    } else if (!same_value(value, it->second)) {
      changes.push_back({key, value, it->second});
    }
  }
  for (const auto& [key, value] : b) {
    if (config_key_changes_trajectory(key) && !a.count(key)) changes.push_back({key, nullptr, value});
  }
  std::sort(changes.begin(), changes.end(), [](const ConfigChange& x, const ConfigChange& y) { return x.key < y.key; });
  return changes;
}

TrainerState load_checkpoint(const std::filesystem::path& dir_in, model::IqaModel& model, AdamW& optimizer) {
  const std::filesystem::path dir = resolve_checkpoint(dir_in);
  const auto text = read_file(dir / "trainer_state.json", 16u << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::corrupt_data, (dir / "trainer_state.json").string() + ": invalid JSON: " + e.what());
  }
  TrainerState state = TrainerState::from_json(j, (dir / "trainer_state.json").string());
  const auto set = SafetensorsSet::open(dir);
  model::load_weights(model.policy(), set, model::checkpoint_names(model.policy()), true, dir.string());
  model.policy().clear_prefix_cache();
  optimizer.load(dir / "optimizer.safetensors");
  return state;
}

}  // namespace hawkeye::rl
