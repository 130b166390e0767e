// Qwen2.5-VL's image preprocessing, as Hugging Face's Qwen2VLImageProcessor does it (the processor every
// Qwen2.5-VL checkpoint names in preprocessor_config.json):
//   1. smart_resize: both sides to multiples of patch_size x merge_size (28), area within
//      [min_pixels, max_pixels], aspect ratio kept as closely as possible;
//   2. bicubic resampling to that size, computed exactly as Pillow's Image.resize(BICUBIC) does on 8-bit RGB
//      (the PIL backend of transformers and qwen_vl_utils' process_vision_info both resize with Pillow):
//      antialiased (the filter widens with the downscale factor), a = -0.5, 22-bit fixed-point weights,
//      horizontal pass then vertical pass, each rounded to 8 bits. transformers' torchvision backend
//      (the "fast" processor) resizes in float and can differ by about one grey level per pixel;
//   3. scale by 1/255, normalise with the CLIP mean/std;
//   4. a still image becomes temporal_patch_size identical frames, cut into patch_size^2 patches and
//      flattened in the order the vision tower expects (rows grouped by 2x2 merge units; within a row:
//      channel, frame, y, x).
// Torch-free: the policy wraps the floats in a tensor.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hawkeye/image/image.h"

namespace hawkeye::model {

struct QwenImageConfig {
  std::int64_t min_pixels = 56 * 56;            // transformers' default (checkpoints: 3136)
  std::int64_t max_pixels = 28 * 28 * 1280;     // transformers' default (checkpoints: 12845056)
  int patch_size = 14;
  int merge_size = 2;
  int temporal_patch_size = 2;
  std::array<double, 3> mean{0.48145466, 0.4578275, 0.40821073};  // OPENAI_CLIP_MEAN
  std::array<double, 3> std{0.26862954, 0.26130258, 0.27577711};   // OPENAI_CLIP_STD
  double rescale_factor = 1.0 / 255.0;

  int factor() const { return patch_size * merge_size; }
  // Reads a preprocessor_config.json object: min_pixels/max_pixels, or size.shortest_edge/longest_edge
  // (transformers >= 4.50 writes both forms; the explicit min/max_pixels win), patch_size, merge_size,
  // temporal_patch_size, image_mean, image_std, rescale_factor. Missing keys keep the defaults.
  // Errors: Error(model) naming the key.
  static QwenImageConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  void validate(const std::string& source) const;
};

struct ResizedSize {
  int height = 0;
  int width = 0;
};

// transformers' smart_resize (Python's round-half-to-even included). Errors: invalid_argument for sides
// below 1 or an aspect ratio above 200.
ResizedSize qwen_smart_resize(int height, int width, const QwenImageConfig& c);

// Pillow's Image.resize(size, Image.BICUBIC) on an 8-bit image (1 or 3 channels), bit for bit.
// Errors: invalid_argument for an empty image or a target side below 1.
Image resize_bicubic_pil(const Image& img, int width, int height);

struct QwenPatches {
  std::vector<float> values;  // [rows, cols] row-major
  std::int64_t rows = 0;      // grid_t * grid_h * grid_w patches
  std::int64_t cols = 0;      // 3 * temporal_patch_size * patch_size^2
  std::int64_t grid_t = 1, grid_h = 0, grid_w = 0;  // in patches (Hugging Face's image_grid_thw)
};

// Steps 1-4 for one RGB image. Errors: invalid_argument (not RGB, bad size).
QwenPatches qwen_preprocess_image(const Image& rgb, const QwenImageConfig& c);

// Steps 3-4 only, for an image already of a size that is a multiple of factor() on both sides.
QwenPatches qwen_flatten_patches(const Image& resized_rgb, const QwenImageConfig& c);

}  // namespace hawkeye::model
