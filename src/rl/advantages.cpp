#include "hawkeye/rl/advantages.h"

#include "hawkeye/core/error.h"

namespace hawkeye::rl {

torch::Tensor group_advantages(const torch::Tensor& rewards, double eps) {
  if (rewards.dim() != 2) throw Error(ErrorCode::invalid_argument, "group_advantages: rewards must be [G, K]");
  const auto r = rewards.to(torch::kFloat64);
  const auto K = r.size(1);
  if (K < 2) return torch::zeros_like(rewards);
  const auto mean = r.mean(1, true);
  const auto std = r.std(1, /*unbiased=*/true, true);
  auto adv = (r - mean) / (std + eps);
  // identical rewards: exactly zero (no signal), not 0/eps noise
  const auto same = (std::get<0>(r.max(1, true)) - std::get<0>(r.min(1, true))) == 0;
  adv = adv.masked_fill(same.expand_as(adv), 0.0);
  return adv.to(rewards.scalar_type());
}

torch::Tensor score_uncertainty(const torch::Tensor& scores, const UadoOptions& o) {
  if (scores.dim() != 2) throw Error(ErrorCode::invalid_argument, "score_uncertainty: scores must be [G, K]");
  if (!(o.hi > o.lo)) throw Error(ErrorCode::invalid_argument, "score_uncertainty: hi must exceed lo");
  const auto s = scores.to(torch::kFloat64);
  const auto ok = s.isnan().logical_not();
  const auto x = s.clamp(o.lo, o.hi).masked_fill(ok.logical_not(), 0.0);
  const auto n = ok.sum(1).to(torch::kFloat64);
  const auto mean = x.sum(1) / n.clamp_min(1);
  const auto dev = (x - mean.unsqueeze(1)).masked_fill(ok.logical_not(), 0.0);
  const auto var = dev.pow(2).sum(1) / n.clamp_min(1);  // population variance
  auto u = (var / ((o.hi - o.lo) * (o.hi - o.lo) / 4.0 + 1e-8)).clamp(0.0, 1.0);  // + 1e-8: the reference's
  u = u.masked_fill(n < 2, 0.0);
  return u.to(torch::kFloat32);
}

torch::Tensor uncertainty_weights(const torch::Tensor& scores, const UadoOptions& o) {
  return torch::exp(-o.alpha * score_uncertainty(scores, o));
}

}  // namespace hawkeye::rl
