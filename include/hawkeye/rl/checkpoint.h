// Training checkpoints: `<run>/checkpoints/step-NNNNNNNN/` holds a complete model directory (usable by
// `hawkeye score --model`), the optimiser state (optimizer.safetensors), the trainer state
// (trainer_state.json: step, counters, the config) — written into a temporary folder and renamed into
// place, so a crash never leaves half a checkpoint. The last `keep` checkpoints are kept.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hawkeye/core/config.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/rl/optim.h"

namespace hawkeye::rl {

struct TrainerState {
  std::int64_t step = 0;           // optimiser steps done
  std::int64_t nonfinite = 0;      // skipped steps so far
  std::string kind;                // "sft" or "grpo"
  nlohmann::json extra = nlohmann::json::object();
  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j, const std::string& source);
};

// Claims a run directory for this process for as long as the returned lock lives: creates it, locks it (a
// second process on the same run.dir fails with ErrorCode::in_use, "in use by PID N") and removes what runs
// that died mid-write left there (checkpoints/step-N.tmp-PID-K, final.tmp-*, config.toml.tmp-*: each can be
// a whole model). Temporaries of processes still alive are left alone.
PathLock claim_run_directory(const std::filesystem::path& run_dir);

std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, std::int64_t step);

void save_checkpoint(const std::filesystem::path& run_dir, model::IqaModel& model, const AdamW& optimizer,
                     const TrainerState& state, const std::string& config_toml, int keep);

// The newest complete checkpoint of a run directory, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

// The checkpoint directory `dir` names: `dir` itself when it holds trainer_state.json, else the run directory's
// latest checkpoint. Errors: not_found.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& dir);

// One key whose value differs between the config a checkpoint was written with and the config now.
struct ConfigChange {
  std::string key;         // dotted, e.g. "train.lr"
  nlohmann::json before;   // null: the key was not in the checkpoint's config (an older hawkeye)
  nlohmann::json after;    // null: the key is not in the config now
};
// Keys that do not change what a run computes beyond float rounding (where it writes, how often it logs,
// checkpoints or validates, threads, device, grad_accum and the distributed settings, the visual cache): free to
// differ on resume. Every other key must keep its value unless the resume allows a config change.
bool config_key_changes_trajectory(const std::string& dotted_key);
// The trajectory-changing differences between the config.toml saved in checkpoint `dir` (resolved as above)
// and `now` (the resolved config, every default written out). A checkpoint without config.toml gives nullopt.
// Errors: not_found, parse (a damaged config.toml).
std::optional<std::vector<ConfigChange>> config_changes_since(const std::filesystem::path& dir, const Config& now);

// Loads weights into `model` and the optimiser state; returns the trainer state. `dir` is a checkpoint
// directory or a run directory (its latest checkpoint). Errors: not_found, corrupt_data, model.
TrainerState load_checkpoint(const std::filesystem::path& dir, model::IqaModel& model, AdamW& optimizer);

}  // namespace hawkeye::rl
