// The trainer's distributed hooks (rl::DistHooks) on a process group: bucketed gradient averaging,
// sums of metrics, barriers.
#pragma once
#include "hawkeye/dist/process_group.h"
#include "hawkeye/rl/trainer.h"

namespace hawkeye::dist {

struct HookOptions {
  double bucket_mb = 25;  // gradients are flattened into buckets of about this size (MiB), one all-reduce each
};

// The hooks keep a pointer to `group`, which must outlive them.
//  - average_gradients: tensors of one dtype and device are packed, in order, into buckets of at most
//    bucket_mb (a larger tensor is a bucket of its own, reduced in place when contiguous); every bucket is
//    all-reduced (sum), then divided by the world size and copied back.
//  - sum: the numbers as one float64 tensor, all-reduced.
//  - barrier: a c10d barrier.
rl::DistHooks make_dist_hooks(ProcessGroup& group, const HookOptions& options = {});

// The buckets average_gradients would form: for each bucket, the indices of its tensors (exposed for tests).
std::vector<std::vector<std::size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors, double bucket_mb);

}  // namespace hawkeye::dist
