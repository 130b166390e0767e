// Import of a TFLite flatbuffer (.tflite): verifies the file, dequantises its constant tensors to float32
// (real = scale[c] x (q - zero_point[c]), per tensor or per channel along quantized_dimension) and names them
// the way a PyTorch MobileNet names its layers (stem, blocks.N.{expand,depthwise,project}, head, classifier),
// in PyTorch layout (conv OIHW, depthwise [C*mult, 1, kh, kw], classifier [classes, features]).
// Torch-free. A graph that is not a MobileNet still imports, as ops.<index>.<opname>.weight/bias.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hawkeye::model {

// One dequantised constant tensor, PyTorch layout, row-major float32.
struct TfliteTensor {
  std::string name;                  // stem.weight, blocks.3.depthwise.bias, ops.64.reshape.weight, ...
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  std::string source;                // the TFLite tensor's own name
  std::string source_dtype;          // UINT8, INT8, INT32, FLOAT32, FLOAT16, ...
  std::string quantization;          // "none", "per_tensor" or "per_channel"
};

// How one named layer computes (what a MobileNet module needs besides the weights).
struct TfliteLayer {
  std::string name;                  // stem, blocks.0.depthwise, head, classifier, ops.7.conv_2d
  std::string op;                    // CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ...
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  std::string padding = "VALID";     // "SAME" or "VALID"
  std::string activation = "NONE";   // fused activation: "NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"
  int depth_multiplier = 0;          // depthwise only (0 = not a depthwise convolution)
  bool residual = false;             // blocks.N.project only: an ADD of the block's input follows
  bool bias = false;                 // the layer has a constant bias (written as <name>.bias)
};

// The network input (subgraph 0's first input) and its quantisation; scale 0 = not quantised.
struct TfliteInput {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;   // NHWC as stored, e.g. [1, 224, 224, 3]
  double scale = 0;
  std::int64_t zero_point = 0;
};

struct TfliteImport {
  std::string source;                // file name (no directory)
  std::string architecture;          // "mobilenet_v2", "mobilenet_v1" or "unknown"
  std::int64_t classes = 0;          // rows of the classifier; 0 without one (a feature extractor)
  TfliteInput input;
  std::vector<TfliteLayer> layers;   // in graph order
  std::vector<TfliteTensor> tensors; // in graph order
  std::vector<std::string> skipped;  // constant tensors not imported (unsupported dtypes), with the reason

  std::uint64_t parameters() const;  // total number of values over tensors
  const TfliteTensor* find(const std::string& name) const;
  const TfliteLayer* find_layer(const std::string& name) const;
  // The metadata as JSON: source, architecture, classes, input {name, dtype, shape, scale, zero_point},
  // layers {name: {op, stride [h, w], dilation [h, w], padding, activation, depth_multiplier, residual, bias}},
  // tensors [{name, shape, source, source_dtype, quantization}], skipped.
  nlohmann::ordered_json metadata() const;
};

// Reads and verifies a .tflite file and dequantises its constant tensors.
// Errors: not_found (missing file), limit_exceeded (over 2 GiB), corrupt_data ("<file>: ..." for anything
// that fails verification: empty or truncated file, identifier other than "TFL3", out-of-range tensor,
// buffer or opcode indices, buffer sizes that disagree with shape x dtype, quantisation arrays whose length
// disagrees with quantized_dimension), unsupported (schema version other than 3, sparse tensors).
TfliteImport import_tflite(const std::filesystem::path& file);

// Writes out_dir/model.safetensors (float32; metadata keys "architecture", "source", "classes", "input" and
// "layers", the last two as JSON strings) and out_dir/tflite.json (metadata(), indented), each atomically.
// Refuses (invalid_argument) when out_dir/model.safetensors exists, unless force.
void write_import(const TfliteImport& imported, const std::filesystem::path& out_dir, bool force = false);

}  // namespace hawkeye::model
