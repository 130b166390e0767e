#include "hawkeye/rl/losses.h"

#include <cmath>

#include "hawkeye/core/error.h"

namespace hawkeye::rl {

torch::Tensor policy_term(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& advantages,
                          double clip_low, double clip_high) {
  const auto A = advantages.to(logp.scalar_type()).unsqueeze(1);  // [N, 1]
  if (!old_logp.defined()) {
    const auto rho = torch::exp(logp - logp.detach());
    return rho * A;
  }
  const auto rho = torch::exp(logp - old_logp.detach());
  const auto clipped = rho.clamp(1.0 - clip_low, 1.0 + clip_high);
  return torch::min(rho * A, clipped * A);
}

torch::Tensor reference_kl(const torch::Tensor& logp, const torch::Tensor& ref_logp) {
  const auto diff = ref_logp.detach() - logp;
  return torch::exp(diff) - diff - 1.0;
}

torch::Tensor perception_kl(const torch::Tensor& logp, const torch::Tensor& logp_deg, const torch::Tensor& mask,
                            std::int64_t rows_per_image, double clamp_d, double clamp_k) {
  if (rows_per_image <= 0 || logp.size(0) % rows_per_image != 0) {
    throw Error(ErrorCode::invalid_argument, "perception_kl: the rows must be whole groups of rows_per_image");
  }
  const auto m = mask.to(logp.scalar_type());
  const auto d = (logp_deg.detach() - logp).clamp(-clamp_d, clamp_d);
  const auto k = (torch::exp(d) - d - 1.0).clamp_max(clamp_k);
  const auto images = logp.size(0) / rows_per_image;
  const auto per_image = (k * m).reshape({images, -1}).sum(1) / m.reshape({images, -1}).sum(1).clamp_min(1.0);
  return per_image.mean();
}

double perception_gamma(double epoch, double gamma0, double e0) {
  if (!(e0 > 0)) return gamma0;
  if (epoch >= e0) return 0.0;
  return gamma0 * 0.5 * (1.0 + std::cos(M_PI * std::max(epoch, 0.0) / e0));
}

torch::Tensor sequence_mean(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto m = mask.to(x.scalar_type());
  const auto tokens = m.sum(1);
  const auto has = tokens > 0;
  const auto per_seq = (x * m).sum(1) / tokens.clamp_min(1.0);
  const auto n = has.sum().clamp_min(1).to(x.scalar_type());
  return (per_seq * has.to(x.scalar_type())).sum() / n;
}

LossParts qhawkeye_loss(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                        const torch::Tensor& logp_deg, const torch::Tensor& advantages, const torch::Tensor& mask,
                        const LossOptions& o) {
  if (logp.dim() != 2 || mask.sizes() != logp.sizes() || advantages.dim() != 1 || advantages.size(0) != logp.size(0)) {
    throw Error(ErrorCode::invalid_argument, "qhawkeye_loss: logp/mask must be [N, T] and advantages [N]");
  }
  LossParts parts;
  const auto m = mask.to(logp.scalar_type());
  auto per_token = policy_term(logp, old_logp, advantages, o.clip_low, o.clip_high);
  parts.policy = -sequence_mean(per_token, m);
  if (ref_logp.defined()) {
    const auto kl = reference_kl(logp, ref_logp);
    parts.kl_ref = sequence_mean(kl, m);
    if (o.ref_kl && o.beta != 0.0) per_token = per_token - o.beta * kl;
  } else {
    parts.kl_ref = torch::zeros({}, logp.options());
  }
  parts.total = -sequence_mean(per_token, m);
  if (logp_deg.defined()) {
    parts.kl_prcp = perception_kl(logp, logp_deg, m, o.rows_per_image);
    if (o.gamma != 0.0) parts.total = parts.total - o.gamma * parts.kl_prcp;
  } else {
    parts.kl_prcp = torch::zeros({}, logp.options());
  }
  const auto rows = (m.sum(1) > 0).sum().clamp_min(1).to(logp.scalar_type());
  parts.entropy = (-(logp * m).sum(1)).sum() / rows;
  if (o.entropy_eta != 0.0) parts.total = parts.total + o.entropy_eta * parts.entropy;
  if (old_logp.defined()) {
    const auto rho = torch::exp(logp.detach() - old_logp.detach());
    const auto clipped = ((rho < 1.0 - o.clip_low) | (rho > 1.0 + o.clip_high)).to(logp.scalar_type());
    parts.clip_fraction = (clipped * m).sum() / m.sum().clamp_min(1.0);
  } else {
    parts.clip_fraction = torch::zeros({}, logp.options());
  }
  return parts;
}

}  // namespace hawkeye::rl
