// Weight initialisation that can be skipped. A model whose every parameter is about to be loaded from a
// checkpoint need not draw billions of random numbers first (a Qwen2.5-VL-7B built on the CPU spends about a
// minute in its random initialisation alone); load_policy builds models under a SkipInitGuard.
//
// Layers made with make_linear / make_embedding under the guard get uninitialised weights of the right shape,
// and the models' own N(0, 0.02) passes are skipped. Anything not then loaded is an error (load_weights
// refuses a checkpoint with a missing tensor), so no uninitialised value can reach a forward pass.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace hawkeye::model {

class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool previous_;
};

// True while a SkipInitGuard lives on this thread.
bool init_skipped();

// torch::nn::Linear / Embedding with torch's initialisation, or uninitialised under a SkipInitGuard.
torch::nn::Linear make_linear(std::int64_t in, std::int64_t out, bool bias);
torch::nn::Embedding make_embedding(std::int64_t count, std::int64_t dim);

}  // namespace hawkeye::model
