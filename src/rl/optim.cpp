#include "hawkeye/rl/optim.h"

#include <cmath>

#include "hawkeye/core/error.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::rl {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options)
    : params_(std::move(params)), o_(options) {
  torch::NoGradGuard g;
  for (const auto& [name, p] : params_) {
    const bool half = p.scalar_type() == torch::kBFloat16 || p.scalar_type() == torch::kFloat16;
    const auto state = half ? torch::kFloat32 : p.scalar_type();
    master_.push_back(half ? p.detach().to(torch::kFloat32).clone(torch::MemoryFormat::Contiguous) : torch::Tensor());
    m_.push_back(torch::zeros_like(p, p.options().dtype(state), torch::MemoryFormat::Contiguous));
    v_.push_back(torch::zeros_like(p, p.options().dtype(state), torch::MemoryFormat::Contiguous));
  }
}

std::size_t AdamW::mixed_precision_params() const {
  std::size_t n = 0;
  for (const auto& t : master_) n += t.defined() ? 1 : 0;
  return n;
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
  }
}

double AdamW::clip_grad_norm(double max_norm) {
  torch::NoGradGuard g;
  // Per-parameter norms stay on the device; their sum crosses to the host once (one sync on a GPU).
  std::vector<torch::Tensor> norms;
  for (auto& [name, p] : params_) {
    if (!p.grad().defined()) continue;
    const auto& grad = p.grad();
    norms.push_back((grad.scalar_type() == torch::kFloat32 || grad.scalar_type() == torch::kFloat64 ? grad : grad.to(torch::kFloat32)).norm().to(torch::kFloat64));
  }
  const double total = norms.empty() ? 0.0 : torch::stack(norms).pow(2).sum().sqrt().item<double>();
  if (max_norm > 0 && std::isfinite(total) && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (auto& [name, p] : params_)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
  return total;
}

void AdamW::step(double lr) {
  torch::NoGradGuard g;
  ++steps_;
  const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(steps_));
  const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(steps_));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const bool mixed = master_[i].defined();
    auto& w = mixed ? master_[i] : p;
    const auto grad = mixed ? p.grad().to(torch::kFloat32) : p.grad();
    if (o_.weight_decay != 0.0) w.mul_(1.0 - lr * o_.weight_decay);
    m_[i].mul_(o_.beta1).add_(grad, 1.0 - o_.beta1);
    v_[i].mul_(o_.beta2).addcmul_(grad, grad, 1.0 - o_.beta2);
    const auto denom = (v_[i].sqrt() / std::sqrt(bc2)).add_(o_.eps);
    w.addcdiv_(m_[i], denom, -lr / bc1);
    if (mixed) p.copy_(w);
  }
}

void AdamW::save(const std::filesystem::path& path) const {
  std::vector<torch::Tensor> keep;
  std::vector<StTensorToWrite> tensors;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (const auto& [suffix, t] : {std::pair<const char*, const torch::Tensor&>{".exp_avg", m_[i]}, {".exp_avg_sq", v_[i]}, {".master", master_[i]}}) {
      if (!t.defined()) continue;
      auto c = t.detach().to(torch::kCPU).contiguous();
      keep.push_back(c);
      tensors.push_back({params_[i].first + suffix, model::to_st_dtype(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
                         static_cast<std::uint64_t>(c.nbytes())});
    }
  }
  write_safetensors(path, tensors, {{"optimizer", "adamw"}, {"steps", std::to_string(steps_)}});
}

void AdamW::load(const std::filesystem::path& path) {
  const auto set = SafetensorsSet::open(path);
  const auto meta = set.metadata();
  auto it = meta.find("steps");
  if (it == meta.end()) throw Error(ErrorCode::corrupt_data, path.string() + ": no 'steps' in the optimizer metadata");
  torch::NoGradGuard g;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (auto* pair : {&m_[i], &v_[i], &master_[i]}) {
      if (!pair->defined()) continue;
      const std::string name = params_[i].first + (pair == &m_[i] ? ".exp_avg" : pair == &v_[i] ? ".exp_avg_sq" : ".master");
      const auto* e = set.find(name);
      if (!e) {
        throw Error(ErrorCode::corrupt_data, path.string() + ": missing optimizer state '" + name + "'" +
                                                 (pair == &master_[i] ? " (the checkpoint was not written by a run in this run.dtype)" : ""));
      }
      if (c10::IntArrayRef(e->info->shape) != pair->sizes()) {
        throw Error(ErrorCode::corrupt_data, path.string() + ": optimizer state '" + name + "' has the wrong shape");
      }
      pair->copy_(model::tensor_from_entry(*e, pair->scalar_type()));
    }
  }
  try {
    steps_ = std::stoll(it->second);
  } catch (const std::exception&) {
    throw Error(ErrorCode::corrupt_data, path.string() + ": invalid optimizer step count");
  }
}

double scheduled_lr(double lr, std::int64_t step, std::int64_t warmup, std::int64_t total) {
  // As transformers' get_cosine_schedule_with_warmup (step 0 has learning rate 0).
  if (warmup > 0 && step < warmup) return lr * static_cast<double>(step) / static_cast<double>(warmup);
  if (total <= warmup) return lr;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace hawkeye::rl
