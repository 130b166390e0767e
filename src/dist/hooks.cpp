#include "hawkeye/dist/hooks.h"

#include <map>
#include <tuple>

#include "hawkeye/core/error.h"

namespace hawkeye::dist {

namespace {

// Tensors that may share a flat buffer: same dtype, same device.
std::tuple<int, int, int> bucket_kind(const torch::Tensor& t) {
  return {static_cast<int>(t.scalar_type()), static_cast<int>(t.device().type()), static_cast<int>(t.device().index())};
}

}  // namespace

std::vector<std::vector<std::size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors, double bucket_mb) {
  const auto limit = static_cast<std::int64_t>(std::max(0.0, bucket_mb) * 1024.0 * 1024.0);
  std::vector<std::vector<std::size_t>> buckets;
  std::map<std::tuple<int, int, int>, std::pair<std::size_t, std::int64_t>> open;  // kind -> (bucket index, bytes)
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const auto size = static_cast<std::int64_t>(t.numel() * t.element_size());
    const auto kind = bucket_kind(t);
    auto it = open.find(kind);
    if (it == open.end() || it->second.second + size > limit) {
      buckets.push_back({i});
      open[kind] = {buckets.size() - 1, size};
    } else {
      buckets[it->second.first].push_back(i);
      it->second.second += size;
    }
  }
  return buckets;
}

rl::DistHooks make_dist_hooks(ProcessGroup& group, const HookOptions& options) {
  rl::DistHooks h;
  h.rank = group.rank();
  h.world = group.world();
  ProcessGroup* g = &group;
  const double bucket_mb = options.bucket_mb;
  h.average_gradients = [g, bucket_mb](std::vector<torch::Tensor>& grads) {
    torch::NoGradGuard no_grad;
    for (const auto& t : grads) {
      if (!t.defined()) throw Error(ErrorCode::internal, "average_gradients: an undefined gradient (every rank must pass the same list)");
    }
    const auto plan = plan_buckets(grads, bucket_mb);
    // One flat tensor per bucket (a lone contiguous tensor is reduced in place).
    std::vector<torch::Tensor> flats;
    flats.reserve(plan.size());
    for (const auto& bucket : plan) {
      if (bucket.size() == 1 && grads[bucket[0]].is_contiguous()) {
        flats.push_back(grads[bucket[0]]);
        continue;
      }
      std::vector<torch::Tensor> parts;
      parts.reserve(bucket.size());
      for (const auto i : bucket) parts.push_back(grads[i].reshape({-1}));
      flats.push_back(torch::cat(parts));
    }
    g->all_reduce_sum(flats, "gradient all-reduce");
    for (std::size_t b = 0; b < plan.size(); ++b) {
      auto& flat = flats[b];
      flat.div_(static_cast<double>(g->world()));
      if (plan[b].size() == 1 && flat.is_same(grads[plan[b][0]])) continue;
      std::int64_t offset = 0;
      for (const auto i : plan[b]) {
        auto& t = grads[i];
        t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  };
  h.sum = [g](std::vector<double>& values) {
    if (values.empty()) return;
    std::vector<torch::Tensor> one{torch::tensor(values, torch::kFloat64)};
    g->all_reduce_sum(one, "sum of metrics");
    const auto* p = one[0].data_ptr<double>();
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = p[i];
  };
  h.barrier = [g] { g->barrier("barrier"); };
  return h;
}

}  // namespace hawkeye::dist
