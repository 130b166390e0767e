// A tiny random Qwen2.5-VL for tests (over the byte tokenizer of resources/tokenizers/hawkeye-byte).
#pragma once
#include <torch/torch.h>

#include "hawkeye/model/qwen2_5_vl.h"

namespace hawkeye::test {

inline constexpr std::int64_t kImagePad = 261;  // <|image_pad|> of resources/tokenizers/hawkeye-byte

inline model::Qwen2_5_VLConfig tiny_qwen_config() {
  model::Qwen2_5_VLConfig c;
  c.vision.depth = 2;
  c.vision.hidden_size = 32;
  c.vision.num_heads = 2;
  c.vision.intermediate_size = 48;
  c.vision.window_size = 56;  // windows of 2x2 merged tokens: several windows even for small images
  c.vision.out_hidden_size = 32;
  c.vision.fullatt_block_indexes = {1};
  c.text.vocab_size = 266;  // the byte tokenizer's ids
  c.text.hidden_size = 32;
  c.text.num_layers = 2;
  c.text.num_heads = 4;
  c.text.num_kv_heads = 2;
  c.text.intermediate_size = 48;
  c.text.rope_theta = 1e6;
  c.text.tie_word_embeddings = false;
  c.text.mrope_section = {2, 1, 1};  // head_dim 8 -> 4 rotary frequencies
  c.image_token_id = kImagePad;
  c.vision_start_token_id = 259;
  c.vision_end_token_id = 260;
  return c;
}

inline model::QwenImageConfig tiny_image_config() {
  model::QwenImageConfig i;
  i.min_pixels = 56 * 56;
  i.max_pixels = 28 * 28 * 64;
  return i;
}

inline std::shared_ptr<model::Qwen2_5_VL> tiny_qwen(std::uint64_t seed = 1, model::Qwen2_5_VLConfig c = tiny_qwen_config()) {
  torch::manual_seed(seed);
  auto m = std::make_shared<model::Qwen2_5_VL>(c, tiny_image_config());
  // Larger random weights than the N(0, 0.02) initialisation, so attention patterns and logits spread.
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.08);
  m->eval();
  return m;
}

}  // namespace hawkeye::test
