// hawkeye-tiny: hawkeye's own small vision-language policy for CPU.
//
// Vision: IQA depends on fine detail (noise, blur, JPEG blocking, banding) that naive downscaling destroys,
// so the encoder sees the image at native resolution: a lossless 2x2 pixel-unshuffle (3 -> 12 channels at
// half resolution), a 3x3 convolution stem, then stages of [stride-2 3x3 conv, residual 3x3 conv] with
// GELU, and finally pooling to a fixed grid of visual tokens (default 6x8 = 48) with the mean and the
// standard deviation of every channel inside each cell (local statistics are what distortions change),
// a two-layer projector into the language model's width and a learned position embedding per cell.
// Language: the Qwen2-style decoder of decoder.h over hawkeye's byte-level tokenizer, 1-D rotary positions.
#pragma once
#include <nlohmann/json.hpp>

#include "hawkeye/model/mobilenet.h"
#include "hawkeye/model/policy.h"

namespace hawkeye::model {

struct TinyVisionConfig {
  std::int64_t stem_channels = 16;
  std::vector<std::int64_t> stage_channels{32, 64, 128};
  std::int64_t grid_h = 6, grid_w = 8;
  bool std_pool = true;
  bool batch_norm = true;            // BatchNorm after every convolution (running statistics at inference)
  bool aux_head = false;             // an auxiliary head (score, KADID type, level) for the warm start
  // The language model reads the auxiliary head's outputs: a linear embedding of them (the score, its
  // interpolation over 17 anchors 1.0, 1.25 … 5.0, the type and level probabilities) is added to each of the
  // image's visual tokens. Needs aux_head. The embedding starts at zero (the model is then exactly the one
  // without it), and a checkpoint without its tensors ("quality_embed.*") loads them as zeros.
  bool quality_embedding = false;
  // A fixed front-end channel: the MSCN coefficients of luma ((Y - mu) / (sigma + 1/255) with a 7x7 Gaussian,
  // sigma 7/6, as in BRISQUE/NIQE) next to RGB. Content-normalised local structure is what noise, blur and
  // compression change; giving it to the first convolution makes a small encoder learn them much faster.
  bool mscn_input = false;
  // A pretrained backbone instead of the from-scratch encoder: "" (none) or "mobilenet_v2" (ImageNet
  // MobileNetV2 1.0, weights from `hawkeye import tflite`, set image_mean/std to 0.5 for its x/127.5 - 1 input).
  // Every block listed in backbone_taps is pooled per grid cell (mean and standard deviation): early blocks
  // keep the fine detail that noise, blur and compression change, late blocks see content. The image is seen at
  // native resolution (up to max_pixels), not resized to 224.
  std::string backbone;
  std::vector<std::int64_t> backbone_taps{0, 2, 5, 9, 12, 15, 16};  // the last block of each stage
  // With a backbone: 16 photometric values per grid cell join the pooled features after their LayerNorm (which
  // divides each cell's 1,424 features by their spread, so a global change of contrast, brightness or saturation
  // that scales the activations is largely normalised away): the cell's mean and standard deviation of R, G and
  // B and its mean chroma (max - min of the channels) on the 0..1 scale, the fractions of its pixels whose luma
  // is above 0.98 (blown highlights) and below 0.02 (crushed shadows), and per tapped block the log of the
  // activations' root mean square. They widen the projector's input by photometric_features() (16 with 7 taps).
  bool photometric_stats = false;
  static constexpr std::int64_t kPhotometricPixelFeatures = 9;
  std::int64_t photometric_features() const {
    return photometric_stats && !backbone.empty() ? kPhotometricPixelFeatures + static_cast<std::int64_t>(backbone_taps.size()) : 0;
  }
  std::int64_t max_pixels = 786432;  // larger images are downscaled (area) to at most this many pixels
  std::int64_t min_side = 32;        // smaller images are upscaled
  std::array<double, 3> mean{0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> std{0.26862954, 0.26130258, 0.27577711};
  static TinyVisionConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// The most elongated image hawkeye-tiny takes (longer side / shorter side). A longer strip would either be
// scaled to a sliver the encoder's grid cannot see, or, brought up to min_side, to millions of pixels.
inline constexpr double kTinyMaxAspectRatio = 64;

struct TinyConfig {
  TinyVisionConfig vision;
  DecoderConfig text;
  std::int64_t image_token_id = -1;
  static TinyConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;  // config.json content ("architecture": TinyVlm::kArchitecture)
};

struct TinyVisionImpl : torch::nn::Module {
  TinyVisionImpl(const TinyVisionConfig& c, std::int64_t out_dim);
  // pixels [N, 3, H, W] (normalised, H and W even) -> [N, grid_h*grid_w, out_dim]
  torch::Tensor forward(const torch::Tensor& pixels);
  // train(true) with frozen statistics keeps every BatchNorm in inference mode (RL fine-tuning: the
  // statistics learnt in the warm start stay fixed, and a sequence's log-prob does not depend on its batch).
  void train(bool on = true) override;
  void freeze_norm_statistics(bool frozen);
  // vision_config.photometric_stats: [N, cells, photometric_features()] from the pixels and the tapped maps.
  torch::Tensor photometric(const torch::Tensor& pixels, const std::vector<torch::Tensor>& maps) const;
  TinyVisionConfig config;
  bool frozen_stats = false;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  torch::nn::ModuleList down, refine, down_bn, refine_bn;
  torch::nn::Linear proj1{nullptr}, proj2{nullptr};
  std::shared_ptr<MobileNetV2Impl> backbone;  // when config.backbone == "mobilenet_v2"
  torch::nn::LayerNorm feat_norm{nullptr};             // the pooled backbone features, normalised
  torch::Tensor pos_embed;
  torch::Tensor gauss_, mean_, std_;  // fixed: MSCN window and the normalisation constants (not weights)
};
TORCH_MODULE(TinyVision);

class TinyVlm : public Policy {
 public:
  static constexpr const char* kArchitecture = "hawkeye-tiny";
  explicit TinyVlm(const TinyConfig& c);
  std::string architecture() const override { return kArchitecture; }
  std::int64_t image_token_id() const override { return config_.image_token_id; }
  Grid visual_grid(int width, int height) const override;
  VisionInput preprocess(const std::vector<const Image*>& images) const override;
  VisualEmbeds encode_images(const VisionInput& input) override;
  Decoder& decoder() override { return *decoder_; }
  torch::Tensor prompt_positions(const std::vector<std::int64_t>& tokens, const Grid* grid,
                                 std::int64_t* next) const override;
  double vision_macs(int width, int height) const override;
  void freeze_norm_statistics(bool frozen) override { vision_->freeze_norm_statistics(frozen); }
  // The auxiliary head (vision_config.aux_head), a linear layer on each image's mean visual token:
  // [N, 1 + 25 + 5] = score offset from 3 (regression), KADID type logits (ids 1..25), level logits (1..5);
  // an undefined tensor without the head.
  torch::Tensor auxiliary_outputs(const VisualEmbeds& visuals);
  static constexpr std::int64_t kAuxTypes = 25, kAuxLevels = 5;
  static constexpr std::int64_t kAuxOutputs = 1 + kAuxTypes + kAuxLevels;
  static constexpr double kAuxScoreOffset = 3.0;
  // Its loss: smooth L1 of the score, plus the cross-entropy of the type and of the level, each over the
  // images that have one (a term is left out when no image of the batch has one).
  torch::Tensor auxiliary_loss(const VisualEmbeds& visuals, const AuxTargets& targets) override;
  // The score column plus kAuxScoreOffset.
  std::vector<double> auxiliary_scores(const VisualEmbeds& visuals) override;
  torch::Tensor auxiliary_score_tensor(const VisualEmbeds& visuals) override;
  bool has_auxiliary_head() const override { return config_.vision.aux_head; }
  // vision_config.quality_embedding: the visual tokens plus each image's quality embedding; else as given.
  VisualEmbeds language_visuals(const VisualEmbeds& visuals) override;
  static constexpr std::int64_t kQualityAnchors = 17;
  static constexpr std::int64_t kQualityFeatures = 1 + kQualityAnchors + kAuxTypes + kAuxLevels;
  // The features the quality embedding reads, [N, kQualityFeatures] float32, from auxiliary_outputs.
  static torch::Tensor quality_features(const torch::Tensor& aux_outputs);
  const TinyConfig& config() const { return config_; }
  TinyVision& vision() { return vision_; }

  // Converts one RGB image to the encoder's input [3, H, W] (resized within the pixel limits, even sides,
  // normalised). Public for the trainer's augmentation (crops are taken before this call).
  torch::Tensor image_to_tensor(const Image& image) const;
  double max_aspect_ratio() const override { return kTinyMaxAspectRatio; }

 private:
  TinyConfig config_;
  TinyVision vision_{nullptr};
  std::shared_ptr<Decoder> decoder_;
  torch::nn::Linear aux_{nullptr};
  torch::nn::Linear quality_{nullptr};
};

// The size image_to_tensor resizes a width x height image to: down to at most max_pixels (area), up so that
// the shorter side is min_side (cubic), and down again if that passed max_pixels, so the result never holds
// more than max_pixels (its sides are then made even by dropping the last row or column). Errors:
// limit_exceeded beyond kTinyMaxAspectRatio, invalid_argument for an empty image.
struct TinyInputSize {
  int width = 0, height = 0;
};
TinyInputSize tiny_input_size(int width, int height, const TinyVisionConfig& c);

// What `hawkeye info` says about a hawkeye-tiny directory: visual tokens per image, and the compute of the
// vision encoder and of the language model per token and per image (the visual tokens plus max_new_tokens
// generated ones) at the reference resolution, the largest 4:3 image within max_pixels.
nlohmann::ordered_json tiny_describe(const TinyConfig& c, std::int64_t max_new_tokens);

}  // namespace hawkeye::model
