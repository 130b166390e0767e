// Inside the trainer (private to src/rl): what a run holds, and the step interface that `train_loop`
// (trainer.cpp) drives. An SftStep (sft_step.cpp) or a GrpoStep (grpo_step.cpp) does the forward and backward
// passes of one optimiser step; the loop owns the schedule, gradient sync, clipping, the non-finite check,
// logging, validation and checkpoints.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "hawkeye/image/io.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/rl/dataset.h"
#include "hawkeye/rl/optim.h"
#include "hawkeye/rl/rewards.h"
#include "hawkeye/rl/train_config.h"
#include "hawkeye/rl/trainer.h"

namespace hawkeye::rl::detail {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct StepTimes {
  double load = 0, rollout = 0, logprob = 0, backward = 0, optimizer = 0;
};

// Everything one run needs, set up once by train().
struct Run {
  const CommonConfig* cfg = nullptr;  // the sections of both commands
  const SftConfig* sft = nullptr;     // set for sft
  const GrpoConfig* grpo = nullptr;   // set for grpo
  std::string kind;
  TrainOptions opts;
  std::filesystem::path dir;
  std::uint64_t seed = 0;
  int threads = 0;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  std::unique_ptr<model::IqaModel> model;
  std::unique_ptr<model::IqaModel> reference;  // GRPO with the reference KL: the frozen starting policy
  std::vector<TrainSample> train, val;
  std::unique_ptr<AdamW> optimizer;
  std::int64_t batch = 0, accum = 1, total_steps = 0;
  bool froze_any = false;  // train.freeze matched parameters
  std::ofstream metrics;
  ImageLimits limits;
  Augment augment;
};

// One optimiser step's batch: this rank's share of the global batch, `micro` rows per accumulation pass.
struct StepBatch {
  std::int64_t step = 0;   // 0-based optimiser step
  double epoch = 0;
  std::vector<std::size_t> rows;  // indices into Run::train, accum × micro
  std::int64_t micro = 0;
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  // The data step of an optimiser step (which batch it reads; GRPO: μ optimiser steps share one rollout batch).
  virtual std::int64_t data_step(std::int64_t step) const { return step; }
  // Whether a step's values are the same with any thread count (its work is cut into parts that do not depend on
  // it, each computed on one core): the run may then change its count between steps.
  virtual bool thread_count_free() const { return false; }
  // Forward and backward passes of every accumulation micro-batch (gradients accumulate; nothing is applied).
  // Writes the step's numbers into `record` after step/epoch/lr; returns the loss summed over the micro-batches.
  virtual double accumulate(const StepBatch& batch, nlohmann::ordered_json& record, StepTimes& times) = 0;
};

std::unique_ptr<TrainStep> make_sft_step(Run& r);
std::unique_ptr<TrainStep> make_grpo_step(Run& r);

}  // namespace hawkeye::rl::detail
