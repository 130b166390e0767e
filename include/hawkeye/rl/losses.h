// The Q-Hawkeye objective (docs/method.md §3, §5.2). Shapes: N sequences (B images x K completions),
// T completion tokens; `mask` [N, T] is 1 for tokens up to and including the first stop token.
// ℓ = per-token log-probabilities under the current policy (with gradient).
#pragma once
#include <torch/torch.h>

namespace hawkeye::rl {

// Per-token policy-gradient term. With old_logp undefined (μ = 1, the reference behaviour)
// ρ_t = exp(ℓ_t − stopgrad(ℓ_t)) (value 1, gradient ∇ℓ_t) and the term is ρ_t·A. With old_logp (rollout-time
// log-probs, μ > 1 passes) ρ_t = exp(ℓ_t − ℓ_old,t) and the PPO-clipped min(ρ·A, clip(ρ, 1−ε_low, 1+ε_high)·A).
// logp, old_logp: [N, T]; advantages: [N]. Returns [N, T] (to be maximised).
torch::Tensor policy_term(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& advantages,
                          double clip_low = 0.2, double clip_high = 0.28);

// k3 estimator of KL(π_θ ‖ π_ref) per token: exp(ℓ_ref − ℓ) − (ℓ_ref − ℓ) − 1. [N, T].
torch::Tensor reference_kl(const torch::Tensor& logp, const torch::Tensor& ref_logp);

// Implicit perception KL: d = clamp(ℓ_deg − ℓ, −clamp_d, clamp_d), k = min(exp(d) − d − 1, clamp_k),
// pooled per image as the reference does (its micro-batch is one image's K completions): the masked mean
// over that image's tokens (an image without tokens counts as 0), then the mean over images. Rows are
// grouped by image: row = image · rows_per_image + sample (rows_per_image = K). So the value, and its
// gradient, do not depend on how images are split into micro-batches or processes. ℓ_deg carries no gradient
// (detached here). Returns a scalar. Estimates KL(π(·|x) ‖ π(·|x_deg)); the loss subtracts γ times it.
torch::Tensor perception_kl(const torch::Tensor& logp, const torch::Tensor& logp_deg, const torch::Tensor& mask,
                            std::int64_t rows_per_image, double clamp_d = 20.0, double clamp_k = 10.0);

// γ(e) = γ0 · ½(1 + cos(π·e/E0)) for fractional epoch e < E0, else 0; E0 <= 0 keeps γ = γ0 throughout (the
// reference's perception_loss_kl_zero_epoch = 0).
double perception_gamma(double epoch, double gamma0 = 1e-4, double e0 = 5.0);

// Token mean within each sequence, then mean over sequences: Σ_t(x·m)/Σ_t m averaged over rows with at
// least one token. x, mask: [N, T]. Returns a scalar.
torch::Tensor sequence_mean(const torch::Tensor& x, const torch::Tensor& mask);

struct LossOptions {
  double beta = 0.04;            // reference KL weight (0 or ref_kl off: no reference term)
  bool ref_kl = true;
  double gamma = 0.0;            // perception weight for this step (from perception_gamma), 0 = off
  std::int64_t rows_per_image = 1;  // K: rows image·K … image·K + K−1 are one image's (perception pooling)
  double clip_low = 0.2, clip_high = 0.28;
  double entropy_eta = 0.0;      // optional double-entropy term η1 (off in the reference run)
};

struct LossParts {
  torch::Tensor total;        // the loss to minimise
  torch::Tensor policy;       // −mean(ρ·Ã) part (sequence_mean)
  torch::Tensor kl_ref;       // sequence_mean of the k3 KL (logged whatever β)
  torch::Tensor kl_prcp;      // perception KL (0 when not computed)
  torch::Tensor entropy;      // mean_i(−Σ_t m·ℓ) (logged; in the loss only when entropy_eta > 0)
  torch::Tensor clip_fraction;  // share of tokens whose ρ was clipped (μ > 1)
};

// L = mean_seq[ −(ρ·Ã − β·KL_ref) ] − γ·KL_prcp + η1·mean_i(−Σ_t m·ℓ).
// ref_logp / logp_deg / old_logp may be undefined tensors (term off). advantages: [N] already UADO-weighted.
LossParts qhawkeye_loss(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                        const torch::Tensor& logp_deg, const torch::Tensor& advantages, const torch::Tensor& mask,
                        const LossOptions& options);

}  // namespace hawkeye::rl
