// AdamW with decoupled weight decay (the PyTorch algorithm), gradient-norm clipping and the learning-rate
// schedule of the reference run (linear warm-up, then cosine to zero). The optimiser's state is named by
// parameter, so it is saved to and restored from safetensors exactly (resume = uninterrupted run).
//
// Mixed precision: for a parameter held in a 16-bit type (bf16/fp16, e.g. `run.dtype = "bfloat16"` on a GPU)
// the optimiser keeps a float32 master copy and float32 moments; each step updates the master from the
// (float32-converted) gradient and writes it back rounded into the parameter, so updates smaller than the
// 16-bit spacing are not lost. The masters are saved with the moments ("<name>.master").
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace hawkeye::rl {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options);
  // One update with learning rate `lr` from the current gradients (parameters without a gradient are skipped).
  void step(double lr);
  void zero_grad();
  // Scales all gradients so that their global L2 norm is at most max_norm (max_norm <= 0: no clipping).
  // Returns the norm before clipping (non-finite when a gradient is).
  double clip_grad_norm(double max_norm);
  void save(const std::filesystem::path& path) const;
  void load(const std::filesystem::path& path);
  std::int64_t steps() const { return steps_; }
  // Parameters updated through a float32 master copy.
  std::size_t mixed_precision_params() const;
  const std::vector<std::pair<std::string, torch::Tensor>>& params() const { return params_; }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<torch::Tensor> m_, v_;
  std::vector<torch::Tensor> master_;  // float32 copies of 16-bit parameters (undefined for float32 ones)
  AdamWOptions o_;
  std::int64_t steps_ = 0;
};

// Linear warm-up from 0 over `warmup` steps, then cosine from `lr` to 0 at `total` steps (the schedule of
// transformers' get_cosine_schedule_with_warmup).
double scheduled_lr(double lr, std::int64_t step, std::int64_t warmup, std::int64_t total);

}  // namespace hawkeye::rl
