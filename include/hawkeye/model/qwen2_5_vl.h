// Qwen2.5-VL (Hugging Face `Qwen2_5_VLForConditionalGeneration`): the architecture of Q-Hawkeye, Q-Insight,
// VisualQuality-R1 and the Qwen2.5-VL Instruct models, loadable from a checkpoint directory as downloaded.
//
// Vision tower (module "visual", Hugging Face names): patch embedding of 14x14 pixels x 2 frames (a Conv3d
// whose stride equals its kernel, computed as one matrix product on the flattened patches); `depth` blocks
// of [RMSNorm -> attention with 2-D rotary positions -> residual; RMSNorm -> SwiGLU MLP with biases ->
// residual]; the blocks listed in fullatt_block_indexes attend over the whole image, the others inside
// windows of window_size pixels, for which the patches are reordered window by window (and the order is
// undone after the merger); a 2x2 patch merger (RMSNorm, Linear, GELU, Linear) into the language model's
// width.
// Language model (module "lm"): the Qwen2 decoder of decoder.h with multimodal rotary positions
// (rope_scaling.mrope_section), whose position ids follow Hugging Face's get_rope_index: text tokens count
// up on all three axes, an image's tokens take (t, row, column) offsets from the position after the text
// before it, and the text after an image continues at one past the largest position so far.
//
// Not supported (refused with a clear error): videos, sliding-window attention in the language model,
// rope scaling other than mrope.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/policy.h"
#include "hawkeye/model/qwen_image_processor.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::model {

struct QwenVisionConfig {
  std::int64_t depth = 32;
  std::int64_t hidden_size = 1280;
  std::int64_t intermediate_size = 3420;
  std::int64_t num_heads = 16;
  std::int64_t in_channels = 3;
  std::int64_t patch_size = 14;
  std::int64_t spatial_merge_size = 2;
  std::int64_t temporal_patch_size = 2;
  std::int64_t window_size = 112;                          // pixels
  std::int64_t out_hidden_size = 3584;                     // the language model's width
  std::vector<std::int64_t> fullatt_block_indexes{7, 15, 23, 31};
  double tokens_per_second = 2;                            // videos only; kept for the config round trip
  std::int64_t head_dim() const { return hidden_size / num_heads; }
  // Side of an attention window in merged tokens (window_size / merge / patch).
  std::int64_t window_merged() const { return window_size / spatial_merge_size / patch_size; }
  bool full_attention(std::int64_t block) const;
  static QwenVisionConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  void validate(const std::string& source) const;
};

struct Qwen2_5_VLConfig {
  QwenVisionConfig vision;
  DecoderConfig text;
  std::int64_t image_token_id = 151655;
  std::int64_t video_token_id = 151656;
  std::int64_t vision_start_token_id = 151652;
  std::int64_t vision_end_token_id = 151653;
  // Reads config.json as written by any transformers version: text settings at the top level (before
  // 4.50) or in "text_config" (later; they win), multimodal rotary sections in "rope_scaling" or in
  // "rope_parameters" (transformers 5), vision settings in "vision_config" ("in_chans" or "in_channels").
  // Errors: Error(model) naming the key; Error(unsupported) for videos-only or unsupported features.
  static Qwen2_5_VLConfig from_json(const nlohmann::json& j, const std::string& source);
  // config.json in the layout every transformers version reads (text settings at the top level and in
  // text_config, rope_scaling with mrope_section).
  nlohmann::json to_json() const;
};

// Attention windows of the vision tower for images with these patch grids (t, h, w in patches, as
// Hugging Face's image_grid_thw): `unit_order` lists the 2x2 merge units (index into the images' units
// in their natural order, images one after another) window by window; `window_patches` the length of
// each non-empty window in patches, in that order; `frame_patches` the length of every frame of every
// image (the segments of the full-attention blocks).
struct QwenWindows {
  std::vector<std::int64_t> unit_order;
  std::vector<std::int64_t> window_patches;
  std::vector<std::int64_t> frame_patches;
};
QwenWindows qwen_window_index(const std::vector<Grid>& patch_grids, const QwenVisionConfig& c);

// The inverse permutation of `order` (a permutation of 0..n-1): inverse[order[i]] = i.
std::vector<std::int64_t> inverse_permutation(const std::vector<std::int64_t>& order);

// Multimodal rotary position ids [3, L] of a prompt with at most one image (a contiguous run of
// `image_token_id` whose length is t*h*w of `merged_grid`); *next = one past the largest position.
// Errors: invalid_argument (image tokens without a grid, a run of the wrong length or a split run).
torch::Tensor qwen_rope_positions(const std::vector<std::int64_t>& tokens, std::int64_t image_token_id,
                                  const Grid* merged_grid, std::int64_t* next);

struct QwenPatchEmbedImpl : torch::nn::Module {
  explicit QwenPatchEmbedImpl(const QwenVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& patches);  // [N, C*T*P*P] -> [N, D]
  torch::nn::Conv3d proj{nullptr};
};
TORCH_MODULE(QwenPatchEmbed);

struct QwenVisionAttentionImpl : torch::nn::Module {
  explicit QwenVisionAttentionImpl(const QwenVisionConfig& c);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  std::int64_t num_heads, head_dim;
};
TORCH_MODULE(QwenVisionAttention);

struct QwenVisionMlpImpl : torch::nn::Module {
  QwenVisionMlpImpl(std::int64_t hidden, std::int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(QwenVisionMlp);

struct QwenVisionBlockImpl : torch::nn::Module {
  explicit QwenVisionBlockImpl(const QwenVisionConfig& c);
  RMSNorm norm1{nullptr}, norm2{nullptr};
  QwenVisionAttention attn{nullptr};
  QwenVisionMlp mlp{nullptr};
};
TORCH_MODULE(QwenVisionBlock);

struct QwenPatchMergerImpl : torch::nn::Module {
  QwenPatchMergerImpl(std::int64_t context_dim, std::int64_t out_dim, std::int64_t merge);
  torch::Tensor forward(const torch::Tensor& x);  // [N, D] -> [N / merge^2, out]
  RMSNorm ln_q{nullptr};
  torch::nn::Sequential mlp{nullptr};
  std::int64_t unit_dim;
};
TORCH_MODULE(QwenPatchMerger);

struct QwenVisionImpl : torch::nn::Module {
  explicit QwenVisionImpl(const QwenVisionConfig& c);
  // patches: the flattened patches of all images, one after another [sum N_i, C*T*P*P];
  // patch_grids: (t, h, w) in patches per image. Returns the merged tokens [sum N_i / 4, out_hidden_size]
  // in each image's natural (row-major) order.
  torch::Tensor forward(const torch::Tensor& patches, const std::vector<Grid>& patch_grids);
  QwenVisionConfig config;
  QwenPatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks;
  QwenPatchMerger merger{nullptr};
};
TORCH_MODULE(QwenVision);

class Qwen2_5_VL : public Policy {
 public:
  static constexpr const char* kArchitecture = "Qwen2_5_VLForConditionalGeneration";
  // `image` gives the pixel limits and normalisation; the patch geometry is taken from c.vision.
  explicit Qwen2_5_VL(const Qwen2_5_VLConfig& c, const QwenImageConfig& image = {});
  std::string architecture() const override { return kArchitecture; }
  std::int64_t image_token_id() const override { return config_.image_token_id; }
  // The merged token grid (1, h/28, w/28) of smart_resize's size.
  Grid visual_grid(int width, int height) const override;
  // pixels[i] = flattened patches [N_i, C*T*P*P] (float32, CPU); grid[i] = merged token grid.
  VisionInput preprocess(const std::vector<const Image*>& images) const override;
  VisualEmbeds encode_images(const VisionInput& input) override;
  Decoder& decoder() override { return *decoder_; }
  torch::Tensor prompt_positions(const std::vector<std::int64_t>& tokens, const Grid* grid,
                                 std::int64_t* next) const override;
  int position_dims() const override { return 3; }
  double vision_macs(int width, int height) const override;
  double max_aspect_ratio() const override { return 200; }  // Qwen2.5-VL's own limit (qwen_smart_resize)

  const Qwen2_5_VLConfig& config() const { return config_; }
  const QwenImageConfig& image_config() const { return image_; }
  // Errors: Error(model) when its patch geometry differs from the vision tower's.
  void set_image_config(const QwenImageConfig& image);
  QwenVision& vision() { return vision_; }

 private:
  Qwen2_5_VLConfig config_;
  QwenImageConfig image_;
  QwenVision vision_{nullptr};
  std::shared_ptr<Decoder> decoder_;
};

// Multiply-accumulates of the vision tower for an image of this size (after smart_resize).
double qwen_vision_macs(const QwenVisionConfig& v, const QwenImageConfig& image, int width, int height);

// Module parameter name -> checkpoint tensor name. Hugging Face checkpoints come in two layouts: the one
// written before transformers 4.52 ("visual.*", "model.layers.*", "lm_head.weight"; what the published
// Qwen2.5-VL repositories hold) and the later one ("model.visual.*", "model.language_model.*",
// "lm_head.weight"). The layout is picked from the checkpoint's names; with none given, the earlier one
// (which every transformers version loads) is used for writing.
NameMap qwen_checkpoint_names(const std::vector<std::string>& checkpoint_tensor_names = {});

// The contract a Qwen2.5-VL directory without hawkeye.json gets (model_id = the directory's name): prompt
// preset "qhawkeye-infer", scores 1-5, higher is better, Q-Hawkeye's sampling.
IqaContract default_qwen_contract(const std::string& model_id);

// What `hawkeye info` says about a Qwen2.5-VL directory, from config.json alone (no model is built):
// visual tokens and compute per image at the largest allowed size and at 1024x768, KV-cache bytes per
// token, memory of the weights in fp32 and bf16.
nlohmann::ordered_json qwen_describe(const Qwen2_5_VLConfig& c, const QwenImageConfig& image, std::int64_t parameters,
                                     std::int64_t max_new_tokens);

}  // namespace hawkeye::model
