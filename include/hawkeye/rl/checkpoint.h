// Training checkpoints: `<run>/checkpoints/step-NNNNNNNN/` holds a complete model directory (usable by
// `hawkeye score --model`), the optimiser state (optimizer.safetensors), the trainer state
// (trainer_state.json: step, counters, the config) — written into a temporary folder and renamed into
// place, so a crash never leaves half a checkpoint. The last `keep` checkpoints are kept.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

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

// Loads weights into `model` and the optimiser state; returns the trainer state. `dir` is a checkpoint
// directory or a run directory (its latest checkpoint). Errors: not_found, corrupt_data, model.
TrainerState load_checkpoint(const std::filesystem::path& dir, model::IqaModel& model, AdamW& optimizer);

}  // namespace hawkeye::rl
