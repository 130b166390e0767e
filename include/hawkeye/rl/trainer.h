// The trainers behind `hawkeye sft` and `hawkeye train` (docs/architecture.md §5, docs/method.md §2–6).
//
//  - sft:  supervised warm start — teacher-forced cross-entropy on the completion tokens only; the target is
//          "<think>{description}</think><answer>{label}</answer>" + the stop token.
//  - grpo: Q-Hawkeye — B images x K rollouts from the current policy, rewards, group advantages reweighted
//          by UADO, the per-token objective with the k3 reference KL against the frozen starting policy,
//          and the implicit perception KL on the degraded twins, scheduled by γ(epoch).
//
// Both write into run.dir: config.toml (the resolved config), metrics.jsonl (one line per step, plus
// validation lines), checkpoints/step-N/ (atomic, last k kept), final/ (the trained model directory).
// Config keys and defaults: rl/train_config.h, docs/training.md.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "hawkeye/core/config.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/rl/dataset.h"
#include "hawkeye/rl/train_config.h"

namespace hawkeye::rl {

// What the distributed layer plugs in (identity for one process).
struct DistHooks {
  int rank = 0;
  int world = 1;
  // Averages the gradients across ranks, in place (all ranks call it with the same tensor list).
  std::function<void(std::vector<torch::Tensor>&)> average_gradients;
  // Sums numbers across ranks (metrics and validation), in place.
  std::function<void(std::vector<double>&)> sum;
  std::function<void()> barrier;
  bool is_main() const { return rank == 0; }
};

struct TrainOptions {
  std::filesystem::path resume;            // a checkpoint or run directory; empty = fresh run
  // Resume although keys that change the trajectory differ from the checkpoint's config.toml (refused
  // otherwise, before any work); the change and the step are recorded in metrics.jsonl ("config_change").
  bool allow_config_change = false;
  const std::atomic<bool>* stop = nullptr; // set (e.g. by Ctrl-C) to checkpoint and return early
  std::int64_t stop_after_step = 0;        // > 0: checkpoint and return (as interrupted) once this step is done
  bool progress = true;
  // > 0: a run whose step gives the same values with any thread count (GRPO of a small language model on the CPU
  // with the vision tower fixed: its work is cut into parts that do not depend on the count) re-chooses its count
  // before every step from the machine's load (model::ThreadGovernor: the cores other processes leave free), between
  // 1 and this many. Its results do not change; load that arrives or leaves during the run is followed. 0: the
  // count stays the one the run started with. Single-process runs only. `hawkeye train` sets it to every core unless
  // --threads N or run.threads fixes the count.
  int follow_load_up_to = 0;
  DistHooks dist;
};

struct TrainResult {
  std::int64_t steps = 0;          // optimiser steps done in total
  double seconds = 0;              // wall time of this invocation
  bool interrupted = false;
  std::filesystem::path run_dir;
  std::filesystem::path final_model;  // empty when interrupted
  nlohmann::json last_validation;     // the last validation record (may be null)
};

// kind = "sft" or "grpo"; the config is read and checked whole (read_train_config) before anything is read or
// written. Errors: invalid_argument (config), not_found, model, numerical (too many non-finite steps);
// interrupted is reported in the result, not thrown. The run folder is made once the data, the model and the
// checkpoint to resume from are read.
TrainResult train(const Config& config, const std::string& kind, const TrainOptions& options = {});
TrainResult train(const TrainConfig& config, const TrainOptions& options = {});

// sft.think_noise for one training row: with probability p (drawn from the seed) the description of a
// confusable KADID (type, level) — half the time the row's type at a neighbouring level, else another of the 24
// labelled types at any level — to stand in for the row's own reasoning while only the answer is trained.
// "" = keep the row's own description (always for rows without a KADID type and level).
std::string noisy_think_text(const TrainSample& row, const KadidLabelTable& labels, double p, std::uint64_t seed);

// The resolved configuration with every default written out (what config.toml in the run holds); errors as
// read_train_config.
Config resolve_train_config(const Config& config, const std::string& kind);

}  // namespace hawkeye::rl
