#include "hawkeye/model/init.h"

namespace hawkeye::model {

namespace {
thread_local bool g_skip_init = false;
}

SkipInitGuard::SkipInitGuard() : previous_(g_skip_init) { g_skip_init = true; }
SkipInitGuard::~SkipInitGuard() { g_skip_init = previous_; }

bool init_skipped() { return g_skip_init; }

torch::nn::Linear make_linear(std::int64_t in, std::int64_t out, bool bias) {
  if (!g_skip_init) return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  // A 1x1 layer (nothing worth drawing) whose parameters then take their real, uninitialised shape.
  torch::nn::Linear layer(torch::nn::LinearOptions(1, 1).bias(bias));
  torch::NoGradGuard g;
  layer->weight.set_data(torch::empty({out, in}));
  if (bias) layer->bias.set_data(torch::empty({out}));
  layer->options.in_features(in).out_features(out);
  return layer;
}

torch::nn::Embedding make_embedding(std::int64_t count, std::int64_t dim) {
  if (!g_skip_init) return torch::nn::Embedding(count, dim);
  torch::nn::Embedding layer(torch::nn::EmbeddingOptions(1, dim));
  torch::NoGradGuard g;
  layer->weight.set_data(torch::empty({count, dim}));
  layer->options.num_embeddings(count);
  return layer;
}

}  // namespace hawkeye::model
