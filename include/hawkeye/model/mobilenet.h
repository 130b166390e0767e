// MobileNetV2 1.0 (Sandler et al. 2018) in the form of Google's TFLite files: batch normalisation folded into
// every convolution (weights + bias), ReLU6, TensorFlow "SAME" padding (a stride-2 layer pads one more pixel
// at the bottom/right than at the top/left when the side is even), input x/127.5 - 1. Parameter names follow
// `hawkeye import tflite` (stem, blocks.N.{expand,depthwise,project}, head, classifier), so an imported
// model.safetensors loads as it is.
//
// Two uses: the pretrained vision backbone of hawkeye-tiny (`run_blocks` blocks, intermediate block outputs
// returned for multi-level pooling) and the whole ImageNet classifier (the importer's accuracy check).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace hawkeye::model {

// One row of the MobileNetV2 table: expansion t, output channels c, repeats n, first stride s.
struct MobileNetV2Stage {
  int t, c, n, s;
};
// The 7 stages of MobileNetV2 1.0 (17 inverted-residual blocks).
const std::vector<MobileNetV2Stage>& mobilenet_v2_stages();
// Output channels and cumulative stride of block `index` (0..16).
std::int64_t mobilenet_v2_block_channels(int index);
int mobilenet_v2_block_stride(int index);
// Total output channels of the listed blocks.
std::int64_t mobilenet_v2_tap_channels(const std::vector<std::int64_t>& blocks);

struct MobileNetV2BlockImpl : torch::nn::Module {
  MobileNetV2BlockImpl(std::int64_t in, std::int64_t out, int expansion, int stride);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d expand{nullptr}, depthwise{nullptr}, project{nullptr};
  int stride = 1;
  bool residual = false;
};
TORCH_MODULE(MobileNetV2Block);

// While a scope is alive on this thread, MobileNetV2 features computed without gradients on CPU in float32 run
// through a frozen TorchScript graph of the tower, optimised for inference by libtorch (oneDNN's blocked layout
// between the layers, ReLU6 fused into the convolutions): about half the time per image at 1 thread. The
// values equal the plain path's to rounding (not bit for bit). Scoring (model::score_images: score, eval,
// serve, the Python module) opens one; training opens one only in a GRPO step whose tower is fixed, where one
// encoding per image serves the rollouts and every loss pass, so rollouts and losses still see one arithmetic.
class InferenceGraphScope {
 public:
  explicit InferenceGraphScope(bool on = true);
  ~InferenceGraphScope();
  InferenceGraphScope(const InferenceGraphScope&) = delete;
  InferenceGraphScope& operator=(const InferenceGraphScope&) = delete;
  static bool active();

 private:
  bool previous_;
};

struct MobileNetV2Impl : torch::nn::Module {
  // run_blocks: how many of the 17 blocks exist (1..17); with_head: the 1x1 conv to 1280 channels and the
  // 1001-class classifier (ImageNet, class 0 = background), only valid with all 17 blocks.
  explicit MobileNetV2Impl(int run_blocks = 17, bool with_head = true);
  // x: [N, 3, H, W] scaled to [-1, 1]. Returns the outputs of the blocks listed in `taps` (ascending indices
  // < run_blocks), in that order.
  std::vector<torch::Tensor> features(const torch::Tensor& x, const std::vector<int>& taps);
  // Whole classifier: logits [N, 1001].
  torch::Tensor forward(const torch::Tensor& x);
  // How many frozen inference graphs this tower holds now (InferenceGraphScope; failed builds not counted).
  std::size_t inference_graphs() const;
  // Multiply-accumulates of features() up to block `last` for an H x W input.
  static double macs(int height, int width, int last);

  torch::nn::Conv2d stem{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::Conv2d head{nullptr};
  torch::nn::Linear classifier{nullptr};

 private:
  // The frozen graphs of features() (InferenceGraphScope), one per input shape class (the SAME paddings of the
  // stride-2 layers and the taps), built on first use, at most 8 (frozen_features returns nothing for a ninth
  // class: the plain path runs), all dropped when any weight changes.
  struct FrozenGraphs;
  std::vector<torch::Tensor> frozen_features(const torch::Tensor& x, const std::vector<int>& taps);
  std::shared_ptr<FrozenGraphs> frozen_;  // made by the constructor
};
TORCH_MODULE(MobileNetV2);

// Loads MobileNetV2 weights into `net` from an imported model.safetensors or directly from a .tflite file
// (dequantised on the fly). Tensors the module lacks (e.g. the head of a truncated backbone) are ignored;
// a tensor the module has but the file lacks, or of another shape, is an error naming it.
void load_mobilenet_v2(MobileNetV2Impl& net, const std::filesystem::path& file);

// TensorFlow "SAME" padding of one spatial side: (before, after).
std::pair<std::int64_t, std::int64_t> tf_same_padding(std::int64_t size, std::int64_t kernel, std::int64_t stride);

}  // namespace hawkeye::model
