// A very small random hawkeye-tiny for tests.
#pragma once
#include <torch/torch.h>

#include "hawkeye/core/random.h"
#include "hawkeye/image/image.h"
#include "hawkeye/model/tiny_vlm.h"

namespace hawkeye::test {

inline model::TinyConfig small_tiny_config() {
  model::TinyConfig c;
  c.vision.stem_channels = 8;
  c.vision.stage_channels = {8, 16};
  c.vision.grid_h = 2;
  c.vision.grid_w = 3;
  c.text.vocab_size = 64;
  c.text.hidden_size = 32;
  c.text.num_layers = 2;
  c.text.num_heads = 4;
  c.text.num_kv_heads = 2;  // grouped-query attention
  c.text.intermediate_size = 48;
  c.text.tie_word_embeddings = true;
  c.image_token_id = 60;
  return c;
}

inline std::shared_ptr<model::TinyVlm> small_tiny(std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  auto m = std::make_shared<model::TinyVlm>(small_tiny_config());
  // Larger random weights than the default init make logits spread, so the tests can tell rows apart.
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.05);
  m->eval();
  return m;
}

inline Image random_image(int w, int h, std::uint64_t seed) {
  Image img(w, h, 3);
  Rng rng(seed);
  for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
  return img;
}

// prompt = prefix (shared) + middle tokens + `n_img` image placeholders + tail
inline std::vector<std::int64_t> prompt(std::initializer_list<std::int64_t> head, int n_img,
                                        std::initializer_list<std::int64_t> tail) {
  std::vector<std::int64_t> p(head);
  for (int i = 0; i < n_img; ++i) p.push_back(60);
  p.insert(p.end(), tail);
  return p;
}

}  // namespace hawkeye::test
