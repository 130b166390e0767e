// A Qwen2-style decoder-only language model: token embeddings, L layers of
// [RMSNorm -> grouped-query attention with rotary positions -> residual; RMSNorm -> SwiGLU MLP -> residual],
// final RMSNorm, output head (tied or not). Parameter names follow Hugging Face's Qwen2 layout
// (model.embed_tokens, model.layers.N.self_attn.q_proj, ..., model.norm, lm_head), so checkpoints load by name.
// Used by hawkeye-tiny (1-D rotary positions) and Qwen2.5-VL (multimodal rotary positions, `mrope_section`).
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "hawkeye/model/kv_cache.h"

namespace hawkeye::model {

struct DecoderConfig {
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t intermediate_size = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = true;
  bool attention_bias = true;                 // q/k/v projections have a bias (Qwen2)
  std::vector<std::int64_t> mrope_section;    // empty: 1-D rotary; else sections of head_dim/2 (t, h, w)
  std::int64_t head_dim() const { return hidden_size / num_heads; }
  // Reads Hugging Face names (vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
  // num_key_value_heads, intermediate_size, rope_theta, rms_norm_eps, tie_word_embeddings,
  // rope_scaling.mrope_section). Errors name the missing or invalid key.
  static DecoderConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  void validate(const std::string& source) const;
};

struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(std::int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(const DecoderConfig& c);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  std::int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  MlpImpl(std::int64_t hidden, std::int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

struct DecoderLayerImpl : torch::nn::Module {
  DecoderLayerImpl(const DecoderConfig& c);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// model.* of the HF layout.
struct DecoderModelImpl : torch::nn::Module {
  DecoderModelImpl(const DecoderConfig& c);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderModel);

// One chunk of input for every row of the batch.
struct DecoderChunk {
  torch::Tensor embeds;     // [B, L, D]
  torch::Tensor positions;  // [B, L] (1-D rotary) or [3, B, L] (multimodal rotary)
  torch::Tensor valid;      // [B, L] bool; false = padding, never attended to
};

class Decoder : public torch::nn::Module {
 public:
  explicit Decoder(const DecoderConfig& c);
  const DecoderConfig& config() const { return config_; }

  torch::Tensor embed(const torch::Tensor& ids) { return model_->embed_tokens->forward(ids); }
  // Output logits of final hidden states [..., D] -> [..., V].
  torch::Tensor logits(const torch::Tensor& hidden);

  // Runs a chunk attending to `segment_prefix` (optional, read-only, batch 1 or B) and to the chunk itself
  // causally; appends the chunk's keys/values to `out` (which must be empty or hold the earlier part of the
  // same rows). Returns the final hidden states (after the last norm) [B, L, D].
  torch::Tensor forward(const DecoderChunk& chunk, const KVSegment* segment_prefix, KVSegment& out,
                        std::int64_t reserve = 0);

  std::int64_t parameter_count() const;

 private:
  torch::Tensor rope_cos_sin(const torch::Tensor& positions, torch::Tensor* sin_out) const;
  DecoderConfig config_;
  DecoderModel model_{nullptr};
  torch::nn::Linear lm_head_{nullptr};
  torch::Tensor inv_freq_;
};

}  // namespace hawkeye::model
