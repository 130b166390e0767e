#include "hawkeye/rl/optim.h"

#include <cmath>

#include "hawkeye/core/error.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::rl {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions options)
    : params_(std::move(params)), o_(options) {
  for (const auto& [name, p] : params_) {
    m_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
    v_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
  }
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
  double total = 0;
  for (auto& [name, p] : params_) {
    if (!p.grad().defined()) continue;
    const double n = p.grad().norm().item<double>();
    total += n * n;
  }
  total = std::sqrt(total);
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
    const auto& grad = p.grad();
    if (o_.weight_decay != 0.0) p.mul_(1.0 - lr * o_.weight_decay);
    m_[i].mul_(o_.beta1).add_(grad, 1.0 - o_.beta1);
    v_[i].mul_(o_.beta2).addcmul_(grad, grad, 1.0 - o_.beta2);
    const auto denom = (v_[i].sqrt() / std::sqrt(bc2)).add_(o_.eps);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

void AdamW::save(const std::filesystem::path& path) const {
  std::vector<torch::Tensor> keep;
  std::vector<StTensorToWrite> tensors;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (const auto& [suffix, t] : {std::pair<const char*, const torch::Tensor&>{".exp_avg", m_[i]}, {".exp_avg_sq", v_[i]}}) {
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
    for (auto* pair : {&m_[i], &v_[i]}) {
      const std::string name = params_[i].first + (pair == &m_[i] ? ".exp_avg" : ".exp_avg_sq");
      const auto* e = set.find(name);
      if (!e) throw Error(ErrorCode::corrupt_data, path.string() + ": missing optimizer state '" + name + "'");
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
