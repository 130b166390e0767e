#include "hawkeye/model/mobilenet.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <array>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/tflite.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::model {

namespace {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t groups = 1) {
  // Stride-1 3x3 layers pad symmetrically (what SAME gives); stride-2 layers are padded by hand before the
  // convolution (SAME's asymmetric padding depends on the input size).
  const std::int64_t pad = stride == 1 ? k / 2 : 0;
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).groups(groups).bias(true));
}

// ReLU6. Without gradients (scoring, rollouts) it clamps the fresh convolution output in place: the same values,
// and no second activation-sized tensor per layer: at 512x384 the tower spends much of its time moving memory
// (scoring 48 images at 1 thread: 8 % less time, bench/README.md section 5). With gradients the out-of-place clamp stays,
// so training's arithmetic (its gradient at exactly 0 and 6 included) is unchanged.
torch::Tensor clamp6(torch::Tensor x) {
  if (!torch::GradMode::is_enabled()) return x.clamp_(0.0, 6.0);
  return torch::clamp(x, 0.0, 6.0);
}

// SAME padding without a padded copy of the input: SAME pads bottom >= top (right >= left), and a convolution
// with the symmetric padding (bottom, right) whose kernel is the weight behind (bottom - top, right - left) rows
// and columns of zeros reads exactly SAME's window: the same products, the same outputs (bit for bit at the
// shipped model's sizes), without copying an activation. F::pad of a channels-last activation is slow: at
// 96 x 192 x 256 (block 1's depthwise input, 4 images), pad + 3x3 takes 41 ms, the 4x4 form 5 ms
// (bench/torch_tower.cpp for the whole tower). Returns the kernel; the padding is (bottom, right).
torch::Tensor zero_extended_kernel(const torch::Tensor& weight, std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right) {
  return F::pad(weight, F::PadFuncOptions({right - left, 0, bottom - top, 0}));
}

// A convolution with TensorFlow SAME padding (the stride-2 case pads explicitly).
torch::Tensor same_conv(nn::Conv2d c, const torch::Tensor& x) {
  const auto& o = c->options;
  const std::int64_t stride = (*o.stride())[0];
  if (stride == 1) return c->forward(x);
  const std::int64_t k = (*o.kernel_size())[0];
  const auto [top, bottom] = tf_same_padding(x.size(2), k, stride);
  const auto [left, right] = tf_same_padding(x.size(3), k, stride);
  if (!torch::GradMode::is_enabled()) {  // without gradients: no padded copy of the input
    const auto w = zero_extended_kernel(c->weight, top, bottom, left, right);
    return F::conv2d(x, w, F::Conv2dFuncOptions().bias(c->bias).stride(stride).padding({bottom, right}).groups(o.groups()));
  }
  return c->forward(F::pad(x, F::PadFuncOptions({left, right, top, bottom})));
}

}  // namespace

std::pair<std::int64_t, std::int64_t> tf_same_padding(std::int64_t size, std::int64_t kernel, std::int64_t stride) {
  const std::int64_t out = (size + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

const std::vector<MobileNetV2Stage>& mobilenet_v2_stages() {
  static const std::vector<MobileNetV2Stage> stages = {
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  return stages;
}

namespace {
struct BlockSpec {
  std::int64_t in, out;
  int t, stride, cumulative_stride;
};
const std::vector<BlockSpec>& block_specs() {
  static const std::vector<BlockSpec> specs = [] {
    std::vector<BlockSpec> v;
    std::int64_t ch = 32;
    int cum = 2;  // after the stem
    for (const auto& s : mobilenet_v2_stages()) {
      for (int i = 0; i < s.n; ++i) {
        const int stride = i == 0 ? s.s : 1;
        cum *= stride;
        v.push_back({ch, s.c, s.t, stride, cum});
        ch = s.c;
      }
    }
    return v;
  }();
  return specs;
}
}  // namespace

std::int64_t mobilenet_v2_block_channels(int index) { return block_specs().at(static_cast<std::size_t>(index)).out; }
std::int64_t mobilenet_v2_tap_channels(const std::vector<std::int64_t>& blocks) {
  std::int64_t channels = 0;
  for (auto b : blocks) channels += mobilenet_v2_block_channels(static_cast<int>(b));
  return channels;
}
int mobilenet_v2_block_stride(int index) { return block_specs().at(static_cast<std::size_t>(index)).cumulative_stride; }

MobileNetV2BlockImpl::MobileNetV2BlockImpl(std::int64_t in, std::int64_t out, int expansion, int stride_) : stride(stride_) {
  const std::int64_t hidden = in * expansion;
  if (expansion != 1) expand = register_module("expand", conv(in, hidden, 1, 1));
  depthwise = register_module("depthwise", conv(hidden, hidden, 3, stride, hidden));
  project = register_module("project", conv(hidden, out, 1, 1));
  residual = stride == 1 && in == out;
}

torch::Tensor MobileNetV2BlockImpl::forward(const torch::Tensor& x) {
  // clamp6 and the residual add work in place only on tensors made here, never on x (a tap the caller holds).
  auto h = expand ? clamp6(expand->forward(x)) : x;
  h = clamp6(same_conv(depthwise, h));
  h = project->forward(h);
  if (!residual) return h;
  if (!torch::GradMode::is_enabled()) return h.add_(x);
  return h + x;
}

namespace {
thread_local bool inference_graph_on = false;
}  // namespace

InferenceGraphScope::InferenceGraphScope(bool on) : previous_(inference_graph_on) { inference_graph_on = on; }
InferenceGraphScope::~InferenceGraphScope() { inference_graph_on = previous_; }
bool InferenceGraphScope::active() { return inference_graph_on; }

struct MobileNetV2Impl::FrozenGraphs {
  std::mutex mutex;
  std::vector<std::pair<const void*, std::uint32_t>> weights;  // (storage, version) of every parameter when built
  std::map<std::string, std::shared_ptr<torch::jit::Module>> graphs;  // null: this class's build failed (plain path)
};

MobileNetV2Impl::MobileNetV2Impl(int run_blocks, bool with_head) : frozen_(std::make_shared<FrozenGraphs>()) {
  const auto& specs = block_specs();
  if (run_blocks < 1 || run_blocks > static_cast<int>(specs.size())) {
    throw Error(ErrorCode::invalid_argument, "MobileNetV2: run_blocks must be in 1..17");
  }
  if (with_head && run_blocks != static_cast<int>(specs.size())) {
    throw Error(ErrorCode::invalid_argument, "MobileNetV2: the classifier head needs all 17 blocks");
  }
  stem = register_module("stem", conv(3, 32, 3, 2));
  blocks = register_module("blocks", nn::ModuleList());
  for (int i = 0; i < run_blocks; ++i) blocks->push_back(MobileNetV2Block(specs[i].in, specs[i].out, specs[i].t, specs[i].stride));
  if (with_head) {
    head = register_module("head", conv(320, 1280, 1, 1));
    classifier = register_module("classifier", nn::Linear(1280, 1001));
  }
}

std::vector<torch::Tensor> MobileNetV2Impl::features(const torch::Tensor& x, const std::vector<int>& taps) {
  std::vector<torch::Tensor> out;
  if (taps.empty()) return out;
  if (InferenceGraphScope::active() && !torch::GradMode::is_enabled() && at::hasMKLDNN() && x.dim() == 4 &&
      x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && stem->weight.device().is_cpu() &&
      stem->weight.scalar_type() == torch::kFloat32 && taps.back() < static_cast<int>(blocks->size())) {
    auto out = frozen_features(x, taps);
    if (!out.empty()) return out;  // empty: no graph for this shape class (the cache is full), the plain path
  }
  // Channels-last (NHWC) activations: libtorch's CPU convolutions, the depthwise ones above all, run faster on
  // them. Scoring 48 images at 512x384 (batch 16, 2 threads): vision 2.47 -> 1.99 s, 13.2 -> 15.8 images/s,
  // the same scores (bench/README.md, section 5).
  auto h = clamp6(same_conv(stem, x.contiguous(torch::MemoryFormat::ChannelsLast)));
  std::size_t next = 0;
  for (int i = 0; i < static_cast<int>(blocks->size()) && next < taps.size(); ++i) {
    h = blocks[i]->as<MobileNetV2BlockImpl>()->forward(h);
    if (taps[next] == i) {
      out.push_back(h);
      ++next;
    }
  }
  if (next != taps.size()) throw Error(ErrorCode::invalid_argument, "MobileNetV2: a tap is beyond the blocks that exist");
  return out;
}

std::size_t MobileNetV2Impl::inference_graphs() const {
  std::lock_guard<std::mutex> lock(frozen_->mutex);
  std::size_t n = 0;
  for (const auto& [key, graph] : frozen_->graphs) n += graph ? 1 : 0;
  return n;
}

// The frozen graph: TorchScript source written for one shape class (each stride-2 layer's SAME padding as a
// zero-extended kernel, the constants of the paddings in the source), the current weights registered as
// parameters, then torch::jit::freeze (weights become constants) and torch::jit::optimize_for_inference
// (oneDNN's layout, convolution + ReLU6 fusion, weights prepacked). Run by the simple executor with the graph
// optimiser off: no profiling runs (the profiling executor spent ~2 s on the first three calls of a tower) and
// no further rewriting of the optimised graph. Building one takes 0.02 s at 1 thread on this machine.
std::vector<torch::Tensor> MobileNetV2Impl::frozen_features(const torch::Tensor& x, const std::vector<int>& taps) {
  // The shape class: the paddings of every stride-2 layer for this input, and the taps.
  std::ostringstream key;
  std::vector<std::array<std::int64_t, 4>> pads;  // top, bottom, left, right of each stride-2 layer in order
  {
    std::int64_t h = x.size(2), w = x.size(3);
    auto down = [&](int stride) {
      if (stride == 1) return;
      const auto [top, bottom] = tf_same_padding(h, 3, stride);
      const auto [left, right] = tf_same_padding(w, 3, stride);
      pads.push_back({top, bottom, left, right});
      key << top << bottom << left << right << ',';
      h = (h + stride - 1) / stride;
      w = (w + stride - 1) / stride;
    };
    down(2);
    for (int i = 0; i <= taps.back(); ++i) down(blocks[i]->as<MobileNetV2BlockImpl>()->stride);
  }
  key << '|';
  for (int t : taps) key << t << ',';
  std::vector<std::pair<const void*, std::uint32_t>> weights;
  for (const auto& p : parameters()) weights.emplace_back(p.storage().data(), p._version());

  std::shared_ptr<torch::jit::Module> graph;
  {
    std::lock_guard<std::mutex> lock(frozen_->mutex);
    if (frozen_->weights != weights) {
      frozen_->graphs.clear();
      frozen_->weights = weights;
    }
    // At most kMaxGraphs shape classes get a graph (each holds a prepacked copy of the weights, ~9 MB, and
    // costs a build): images of a few sizes, the usual case, all run fast; beyond that, the plain path.
    constexpr std::size_t kMaxGraphs = 8;
    if (!frozen_->graphs.count(key.str()) && frozen_->graphs.size() >= kMaxGraphs) return {};
    const auto found = frozen_->graphs.find(key.str());
    if (found != frozen_->graphs.end()) {
      if (!found->second) return {};  // its build failed once: the plain path, without trying again
      graph = found->second;
    } else {
      // Built and run once here; a libtorch whose TorchScript passes or oneDNN cannot do this costs nothing
      // but a warning: the plain path runs, the same values.
      auto& slot = frozen_->graphs[key.str()];
      torch::jit::Module m("hawkeye_mobilenet_v2_tower");
      std::ostringstream src;
      std::size_t next_pad = 0;
      int n = 0;
      // One convolution: registers its (zero-extended) weight and bias, returns the call's source.
      auto conv_call = [&](const nn::Conv2d& c, const std::string& input) {
        const std::string name = "c" + std::to_string(n++);
        const std::int64_t stride = (*c->options.stride())[0];
        auto weight = c->weight.detach();
        std::int64_t ph = (*c->options.kernel_size())[0] / 2, pw = ph;
        if (stride != 1) {
          const auto& p = pads.at(next_pad++);
          weight = zero_extended_kernel(weight, p[0], p[1], p[2], p[3]);
          ph = p[1];
          pw = p[3];
        }
        m.register_parameter(name + "_w", weight.contiguous(), false);
        m.register_parameter(name + "_b", c->bias.detach(), false);
        return "torch.conv2d(" + input + ", self." + name + "_w, self." + name + "_b, [" + std::to_string(stride) + ", " +
               std::to_string(stride) + "], [" + std::to_string(ph) + ", " + std::to_string(pw) + "], [1, 1], " +
               std::to_string(c->options.groups()) + ")";
      };
      auto relu6 = [](const std::string& e) { return "torch.clamp(" + e + ", 0.0, 6.0)"; };
      src << "def forward(self, x):\n    h = " << relu6(conv_call(stem, "x")) << "\n";
      std::string outputs;
      std::size_t next = 0;
      for (int i = 0; i <= taps.back(); ++i) {
        const auto& b = *blocks[i]->as<MobileNetV2BlockImpl>();
        std::string y = "h";
        if (b.expand) {
          src << "    y = " << relu6(conv_call(b.expand, "h")) << "\n";
          y = "y";
        }
        src << "    y = " << relu6(conv_call(b.depthwise, y)) << "\n";
        src << "    y = " << conv_call(b.project, "y") << "\n";
        src << (b.residual ? "    h = y + h\n" : "    h = y\n");
        if (next < taps.size() && taps[next] == i) {
          src << "    t" << i << " = h\n";
          outputs += "t" + std::to_string(i) + ", ";
          ++next;
        }
      }
      src << "    return (" << outputs << ")\n";
      // A method's executor is made on its first call, of the kind the process-wide switches say then: make it
      // now with the simple executor, and give the switches back (an embedding's own TorchScript keeps its).
      const bool executor = torch::jit::getExecutorMode(), profiling = torch::jit::getProfilingMode();
      torch::jit::getExecutorMode() = false;
      torch::jit::getProfilingMode() = false;
      std::vector<torch::Tensor> out;
      try {
        m.define(src.str());
        m.eval();
        auto frozen = torch::jit::freeze(m);
        auto optimised = std::make_shared<torch::jit::Module>(torch::jit::optimize_for_inference(frozen));
        torch::jit::GraphOptimizerEnabledGuard no_rewrite(false);
        const auto taps_out = optimised->forward({x.contiguous()}).toTuple();  // held: elements() is a reference into it
        for (const auto& e : taps_out->elements()) out.push_back(e.toTensor());
        slot = optimised;
      } catch (const std::exception& e) {
        spdlog::warn("MobileNetV2: no inference graph for this image size ({}); the plain path runs", e.what());
        out.clear();
      }
      torch::jit::getExecutorMode() = executor;
      torch::jit::getProfilingMode() = profiling;
      return out;  // the first image's taps (or nothing: the plain path)
    }
  }
  torch::jit::GraphOptimizerEnabledGuard no_rewrite(false);
  const auto result = graph->forward({x.contiguous()}).toTuple();
  std::vector<torch::Tensor> out;
  for (const auto& e : result->elements()) out.push_back(e.toTensor());
  return out;
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& x) {
  if (!head) throw Error(ErrorCode::invalid_argument, "MobileNetV2: this network has no classifier head");
  auto h = features(x, {static_cast<int>(blocks->size()) - 1}).front();
  h = clamp6(head->forward(h));
  return classifier->forward(h.mean({2, 3}));
}

double MobileNetV2Impl::macs(int height, int width, int last) {
  double h = std::ceil(height / 2.0), w = std::ceil(width / 2.0);
  double total = h * w * 27 * 32;
  const auto& specs = block_specs();
  for (int i = 0; i <= last && i < static_cast<int>(specs.size()); ++i) {
    const auto& s = specs[static_cast<std::size_t>(i)];
    const double hidden = static_cast<double>(s.in * s.t);
    if (s.t != 1) total += h * w * static_cast<double>(s.in) * hidden;
    h = std::ceil(h / s.stride);
    w = std::ceil(w / s.stride);
    total += h * w * hidden * 9 + h * w * hidden * static_cast<double>(s.out);
  }
  return total;
}

void load_mobilenet_v2(MobileNetV2Impl& net, const std::filesystem::path& file) {
  torch::NoGradGuard no_grad;
  auto params = net.named_parameters();
  const auto assign = [&](const std::string& name, const float* data, const std::vector<std::int64_t>& shape) {
    auto* p = params.find(name);
    if (!p) return false;  // e.g. the head of a file imported whole, loaded into a truncated backbone
    if (p->sizes().vec() != shape) {
      throw Error(ErrorCode::model, file.string() + ": tensor '" + name + "' has the wrong shape for MobileNetV2 1.0");
    }
    p->copy_(torch::from_blob(const_cast<float*>(data), shape, torch::kFloat32));
    return true;
  };
  std::set<std::string> loaded;
  if (file.extension() == ".tflite") {
    const auto imported = import_tflite(file);
    if (imported.architecture != "mobilenet_v2") {
      throw Error(ErrorCode::model, file.string() + ": a " + imported.architecture + " network, not MobileNetV2");
    }
    for (const auto& t : imported.tensors)
      if (assign(t.name, t.values.data(), t.shape)) loaded.insert(t.name);
  } else {
    const auto set = SafetensorsSet::open(file);
    for (const auto& name : set.names()) {
      const auto* e = set.find(name);
      require(dtype_can_hold(e->info->dtype, torch::kFloat32), ErrorCode::model,
              file.string() + ": tensor '" + name + "' is stored as " + std::string(st_dtype_name(e->info->dtype)) +
                  ", which cannot be a float32 weight");
      const auto t = tensor_from_entry(*e, torch::kFloat32).contiguous();
      if (assign(name, t.data_ptr<float>(), t.sizes().vec())) loaded.insert(name);
    }
  }
  for (const auto& p : net.named_parameters()) {
    if (!loaded.count(p.key())) throw Error(ErrorCode::model, file.string() + ": no tensor '" + p.key() + "' (not a MobileNetV2 1.0 import?)");
  }
}

}  // namespace hawkeye::model
