// Group advantages (GRPO) and Uncertainty-Aware Dynamic Optimisation (UADO) weights
// (docs/method.md §3–4). Shapes: G groups (images) x K completions per group.
#pragma once
#include <torch/torch.h>

namespace hawkeye::rl {

// A_k = (r_k - mean(r)) / (std_unbiased(r) + eps) within each group; a group whose rewards are all
// equal gets 0. rewards: [G, K] float. Returns [G, K]. (K = 1 gives 0.)
torch::Tensor group_advantages(const torch::Tensor& rewards, double eps = 1e-4);

struct UadoOptions {
  double alpha = 0.2;  // w = exp(-alpha * u)
  double lo = 1.0;     // score range used to clamp and to normalise the variance
  double hi = 5.0;
};

// Per-group uncertainty u in [0, 1]: the population variance of the group's parsed scores, clamped to
// [lo, hi] first, divided by the largest possible variance (hi - lo)^2 / 4, clamped to [0, 1]. Parse
// failures are NaN in `scores` and are dropped; fewer than 2 parsed scores give u = 0.
// scores: [G, K] float (NaN = failure). Returns [G].
torch::Tensor score_uncertainty(const torch::Tensor& scores, const UadoOptions& options = {});

// UADO weight w = exp(-alpha * u) per group [G] (no gradient). Multiply the group's advantages by it.
torch::Tensor uncertainty_weights(const torch::Tensor& scores, const UadoOptions& options = {});

}  // namespace hawkeye::rl
