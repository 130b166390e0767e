#include "hawkeye/model/tiny_vlm.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>

#include <ATen/Parallel.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/model/architecture.h"
#include "hawkeye/model/init.h"
#include "hawkeye/model/mobilenet.h"
#include "image/cv_bridge.h"

namespace hawkeye::model {

namespace {

std::int64_t int_field(const nlohmann::json& j, const char* key, std::int64_t fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number_integer()) throw Error(ErrorCode::model, source + ": vision_config." + key + " must be an integer");
  return it->get<std::int64_t>();
}

}  // namespace

TinyVisionConfig TinyVisionConfig::from_json(const nlohmann::json& j, const std::string& source) {
  TinyVisionConfig c;
  if (!j.is_object()) throw Error(ErrorCode::model, source + ": vision_config must be an object");
  c.stem_channels = int_field(j, "stem_channels", c.stem_channels, source);
  if (j.contains("stage_channels")) {
    if (!j["stage_channels"].is_array() || j["stage_channels"].empty()) {
      throw Error(ErrorCode::model, source + ": vision_config.stage_channels must be a non-empty array");
    }
    c.stage_channels.clear();
    for (const auto& v : j["stage_channels"]) {
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > 4096) {
        throw Error(ErrorCode::model, source + ": vision_config.stage_channels entries must be integers in 1..4096");
      }
      c.stage_channels.push_back(v.get<std::int64_t>());
    }
  }
  if (j.contains("grid")) {
    const auto& g = j["grid"];
    if (!g.is_array() || g.size() != 2 || !g[0].is_number_integer() || !g[1].is_number_integer()) {
      throw Error(ErrorCode::model, source + ": vision_config.grid must be [rows, cols]");
    }
    c.grid_h = g[0].get<std::int64_t>();
    c.grid_w = g[1].get<std::int64_t>();
  }
  if (j.contains("std_pool")) c.std_pool = j["std_pool"].get<bool>();
  if (j.contains("batch_norm")) c.batch_norm = j["batch_norm"].get<bool>();
  if (j.contains("aux_head")) c.aux_head = j["aux_head"].get<bool>();
  if (j.contains("quality_embedding")) {
    if (!j["quality_embedding"].is_boolean()) throw Error(ErrorCode::model, source + ": vision_config.quality_embedding must be true or false");
    c.quality_embedding = j["quality_embedding"].get<bool>();
    if (c.quality_embedding && !c.aux_head) {
      throw Error(ErrorCode::model, source + ": vision_config.quality_embedding reads the auxiliary head: it needs aux_head = true");
    }
  }
  if (j.contains("mscn_input")) c.mscn_input = j["mscn_input"].get<bool>();
  if (j.contains("backbone")) {
    if (!j["backbone"].is_string()) throw Error(ErrorCode::model, source + ": vision_config.backbone must be a string");
    c.backbone = j["backbone"].get<std::string>();
    if (!c.backbone.empty() && c.backbone != "mobilenet_v2") {
      throw Error(ErrorCode::model, source + ": vision_config.backbone '" + c.backbone + "' is not known (\"mobilenet_v2\" or none)");
    }
  }
  if (j.contains("backbone_taps")) {
    const auto& t = j["backbone_taps"];
    if (!t.is_array() || t.empty()) throw Error(ErrorCode::model, source + ": vision_config.backbone_taps must be a non-empty array");
    c.backbone_taps.clear();
    for (const auto& v : t) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 16 ||
          (!c.backbone_taps.empty() && v.get<std::int64_t>() <= c.backbone_taps.back())) {
        throw Error(ErrorCode::model, source + ": vision_config.backbone_taps must be ascending block indices in 0..16");
      }
      c.backbone_taps.push_back(v.get<std::int64_t>());
    }
  }
  if (j.contains("photometric_stats")) {
    if (!j["photometric_stats"].is_boolean()) throw Error(ErrorCode::model, source + ": vision_config.photometric_stats must be true or false");
    c.photometric_stats = j["photometric_stats"].get<bool>();
  }
  if (c.photometric_stats && c.backbone.empty()) {
    throw Error(ErrorCode::model, source + ": vision_config.photometric_stats applies to a pretrained backbone (vision_config.backbone)");
  }
  if (!c.backbone.empty() && c.mscn_input) {
    throw Error(ErrorCode::model, source + ": vision_config.mscn_input applies to the from-scratch encoder, not to a backbone");
  }
  c.max_pixels = int_field(j, "max_pixels", c.max_pixels, source);
  c.min_side = int_field(j, "min_side", c.min_side, source);
  for (const char* key : {"image_mean", "image_std"}) {
    if (!j.contains(key)) continue;
    const auto& a = j[key];
    if (!a.is_array() || a.size() != 3) throw Error(ErrorCode::model, source + ": vision_config." + key + " must hold 3 numbers");
    auto& dst = std::string(key) == "image_mean" ? c.mean : c.std;
    for (int i = 0; i < 3; ++i) dst[i] = a[i].get<double>();
  }
  if (c.stem_channels <= 0 || c.stem_channels > 4096) throw Error(ErrorCode::model, source + ": vision_config.stem_channels out of range");
  if (c.grid_h <= 0 || c.grid_w <= 0 || c.grid_h * c.grid_w > 4096) throw Error(ErrorCode::model, source + ": vision_config.grid out of range");
  if (c.max_pixels < 1024 || c.min_side < 16) throw Error(ErrorCode::model, source + ": vision_config pixel limits out of range");
  for (double s : c.std)
    if (!(s > 0)) throw Error(ErrorCode::model, source + ": vision_config.image_std must be positive");
  return c;
}

nlohmann::json TinyVisionConfig::to_json() const {
  nlohmann::json j = {{"grid", {grid_h, grid_w}}, {"std_pool", std_pool}, {"aux_head", aux_head},
                      {"max_pixels", max_pixels}, {"min_side", min_side}, {"image_mean", mean}, {"image_std", std}};
  if (quality_embedding) j["quality_embedding"] = true;
  if (backbone.empty()) {
    j["stem_channels"] = stem_channels;
    j["stage_channels"] = stage_channels;
    j["batch_norm"] = batch_norm;
    j["mscn_input"] = mscn_input;
  } else {
    j["backbone"] = backbone;
    j["backbone_taps"] = backbone_taps;
    if (photometric_stats) j["photometric_stats"] = true;
  }
  return j;
}

TinyConfig TinyConfig::from_json(const nlohmann::json& j, const std::string& source) {
  TinyConfig c;
  if (!j.contains("vision_config")) throw Error(ErrorCode::model, source + ": missing 'vision_config'");
  if (!j.contains("text_config")) throw Error(ErrorCode::model, source + ": missing 'text_config'");
  c.vision = TinyVisionConfig::from_json(j["vision_config"], source);
  c.text = DecoderConfig::from_json(j["text_config"], source + " text_config");
  if (!j.contains("image_token_id") || !j["image_token_id"].is_number_integer()) {
    throw Error(ErrorCode::model, source + ": missing integer 'image_token_id'");
  }
  c.image_token_id = j["image_token_id"].get<std::int64_t>();
  if (c.image_token_id < 0 || c.image_token_id >= c.text.vocab_size) {
    throw Error(ErrorCode::model, source + ": image_token_id is outside the vocabulary");
  }
  return c;
}

nlohmann::json TinyConfig::to_json() const {
  return {{"architecture", TinyVlm::kArchitecture},
          {"model_type", "hawkeye_tiny"},
          {"image_token_id", image_token_id},
          {"vision_config", vision.to_json()},
          {"text_config", text.to_json()}};
}

TinyVisionImpl::TinyVisionImpl(const TinyVisionConfig& c, std::int64_t out_dim) : config(c) {
  namespace nn = torch::nn;
  if (!c.backbone.empty()) {
    const int blocks = static_cast<int>(c.backbone_taps.back()) + 1;
    backbone = register_module("backbone", std::make_shared<MobileNetV2Impl>(blocks, /*with_head=*/false));
    const std::int64_t channels = mobilenet_v2_tap_channels(c.backbone_taps);
    const std::int64_t pooled = c.std_pool ? 2 * channels : channels;
    feat_norm = register_module("feat_norm", nn::LayerNorm(nn::LayerNormOptions({pooled})));
    proj1 = register_module("proj1", make_linear(pooled + c.photometric_features(), out_dim, true));
    proj2 = register_module("proj2", make_linear(out_dim, out_dim, true));
    pos_embed = register_parameter("pos_embed", torch::randn({c.grid_h * c.grid_w, out_dim}) * 0.02);
    return;
  }
  const bool bias = !c.batch_norm;
  const std::int64_t in_channels = (c.mscn_input ? 4 : 3) * 4;  // after the 2x2 pixel unshuffle
  stem = register_module("stem", nn::Conv2d(nn::Conv2dOptions(in_channels, c.stem_channels, 3).padding(1).bias(bias)));
  if (c.mscn_input) {
    const auto x = torch::arange(-3, 4, torch::kFloat32);
    auto g = torch::exp(-(x * x) / (2.0 * (7.0 / 6.0) * (7.0 / 6.0)));
    g = g / g.sum();
    gauss_ = g.view({1, 1, 1, 7}).repeat({2, 1, 1, 1});  // separable: rows then columns, for y and y^2
    mean_ = torch::tensor({c.mean[0], c.mean[1], c.mean[2]}, torch::kFloat32).view({1, 3, 1, 1});
    std_ = torch::tensor({c.std[0], c.std[1], c.std[2]}, torch::kFloat32).view({1, 3, 1, 1});
  }
  down = register_module("down", nn::ModuleList());
  refine = register_module("refine", nn::ModuleList());
  if (c.batch_norm) {
    stem_bn = register_module("stem_bn", nn::BatchNorm2d(c.stem_channels));
    down_bn = register_module("down_bn", nn::ModuleList());
    refine_bn = register_module("refine_bn", nn::ModuleList());
  }
  std::int64_t ch = c.stem_channels;
  for (auto out : c.stage_channels) {
    down->push_back(nn::Conv2d(nn::Conv2dOptions(ch, out, 3).stride(2).padding(1).bias(bias)));
    refine->push_back(nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(bias)));
    if (c.batch_norm) {
      down_bn->push_back(nn::BatchNorm2d(out));
      refine_bn->push_back(nn::BatchNorm2d(out));
    }
    ch = out;
  }
  const std::int64_t pooled = c.std_pool ? 2 * ch : ch;
  proj1 = register_module("proj1", nn::Linear(pooled, out_dim));
  proj2 = register_module("proj2", nn::Linear(out_dim, out_dim));
  pos_embed = register_parameter("pos_embed", torch::randn({c.grid_h * c.grid_w, out_dim}) * 0.02);
}

void TinyVisionImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (on && frozen_stats && config.batch_norm && !backbone) {
    stem_bn->eval();
    for (auto& m : *down_bn) m->eval();
    for (auto& m : *refine_bn) m->eval();
  }
}

void TinyVisionImpl::freeze_norm_statistics(bool frozen) {
  frozen_stats = frozen;
  train(is_training());
}

torch::Tensor TinyVisionImpl::forward(const torch::Tensor& pixels) {
  namespace F = torch::nn::functional;
  auto norm = [&](torch::nn::ModuleList& list, std::size_t i, const torch::Tensor& x) {
    return config.batch_norm ? list[i]->as<torch::nn::BatchNorm2dImpl>()->forward(x) : x;
  };
  const auto grid = F::AdaptiveAvgPool2dFuncOptions({config.grid_h, config.grid_w});
  if (backbone) {
    std::vector<int> taps(config.backbone_taps.begin(), config.backbone_taps.end());
    const auto maps = backbone->features(pixels.to(backbone->stem->weight.scalar_type()), taps);
    std::vector<torch::Tensor> parts;
    for (const auto& m : maps) {
      const auto mean = F::adaptive_avg_pool2d(m, grid);
      parts.push_back(mean);
      if (config.std_pool) parts.push_back(torch::sqrt((F::adaptive_avg_pool2d(m * m, grid) - mean * mean).clamp_min(1e-6)));
    }
    auto feats = torch::cat(parts, 1).flatten(2).transpose(1, 2);  // [N, cells, C]
    feats = feat_norm->forward(feats);
    if (config.photometric_stats) feats = torch::cat({feats, photometric(pixels, maps).to(feats.scalar_type())}, 2);
    return proj2->forward(torch::gelu(proj1->forward(feats))) + pos_embed;
  }
  // The input transform runs in float32 whatever the weights' dtype (bf16 would wreck the local variances).
  torch::Tensor input = pixels.to(torch::kFloat32);
  if (config.mscn_input) {
    torch::NoGradGuard no_grad;  // a fixed transform of the input
    const auto f32 = torch::TensorOptions().device(pixels.device()).dtype(torch::kFloat32);
    const auto rgb = input * std_.to(f32) + mean_.to(f32);
    const auto y = (0.299 * rgb.narrow(1, 0, 1) + 0.587 * rgb.narrow(1, 1, 1) + 0.114 * rgb.narrow(1, 2, 1)) * 255.0;
    const auto pad = F::PadFuncOptions({3, 3, 3, 3}).mode(torch::kReplicate);
    const auto w = gauss_.to(f32);
    const auto both = F::pad(torch::cat({y, y * y}, 1), pad);
    const auto conv = F::Conv2dFuncOptions().groups(2);
    const auto smooth = F::conv2d(F::conv2d(both, w, conv), w.transpose(2, 3), conv);
    const auto mu = smooth.narrow(1, 0, 1);
    const auto var = smooth.narrow(1, 1, 1) - mu * mu;
    const auto mscn = (y - mu) / (var.abs().sqrt() + 1.0);
    input = torch::cat({input, mscn}, 1);
  }
  auto x = torch::pixel_unshuffle(input, 2).to(stem->weight.scalar_type());
  x = stem->forward(x);
  if (config.batch_norm) x = stem_bn->forward(x);
  x = torch::gelu(x);
  for (std::size_t i = 0; i < down->size(); ++i) {
    x = torch::gelu(norm(down_bn, i, down[i]->as<torch::nn::Conv2dImpl>()->forward(x)));
    x = x + torch::gelu(norm(refine_bn, i, refine[i]->as<torch::nn::Conv2dImpl>()->forward(x)));
  }
  auto mean = F::adaptive_avg_pool2d(x, grid);
  torch::Tensor feats = mean;
  if (config.std_pool) {
    const auto sq = F::adaptive_avg_pool2d(x * x, grid);
    feats = torch::cat({mean, torch::sqrt((sq - mean * mean).clamp_min(1e-6))}, 1);
  }
  feats = feats.flatten(2).transpose(1, 2);  // [N, cells, C]
  return proj2->forward(torch::gelu(proj1->forward(feats))) + pos_embed;
}

torch::Tensor TinyVisionImpl::photometric(const torch::Tensor& pixels, const std::vector<torch::Tensor>& maps) const {
  namespace F = torch::nn::functional;
  const auto grid = F::AdaptiveAvgPool2dFuncOptions({config.grid_h, config.grid_w});
  std::vector<torch::Tensor> parts;
  {
    torch::NoGradGuard no_grad;  // a fixed transform of the input
    const auto f32 = torch::TensorOptions().device(pixels.device()).dtype(torch::kFloat32);
    const auto mean = torch::tensor({config.mean[0], config.mean[1], config.mean[2]}, f32).view({1, 3, 1, 1});
    const auto std = torch::tensor({config.std[0], config.std[1], config.std[2]}, f32).view({1, 3, 1, 1});
    const auto rgb = (pixels.to(torch::kFloat32) * std + mean).clamp(0.0, 1.0);  // back to 0..1
    const auto luma = 0.299 * rgb.narrow(1, 0, 1) + 0.587 * rgb.narrow(1, 1, 1) + 0.114 * rgb.narrow(1, 2, 1);
    const auto m = F::adaptive_avg_pool2d(rgb, grid);
    parts.push_back(m);
    parts.push_back(torch::sqrt((F::adaptive_avg_pool2d(rgb * rgb, grid) - m * m).clamp_min(0.0)));
    parts.push_back(F::adaptive_avg_pool2d(std::get<0>(rgb.max(1, true)) - std::get<0>(rgb.min(1, true)), grid));
    parts.push_back(F::adaptive_avg_pool2d((luma > 0.98).to(torch::kFloat32), grid));
    parts.push_back(F::adaptive_avg_pool2d((luma < 0.02).to(torch::kFloat32), grid));
  }
  for (const auto& map : maps) {  // these keep their gradient: the backbone learns through them too
    const auto ms = F::adaptive_avg_pool2d(map.to(torch::kFloat32).square().mean(1, true), grid);
    parts.push_back(torch::log(torch::sqrt(ms + 1e-12) + 1e-3));
  }
  return torch::cat(parts, 1).flatten(2).transpose(1, 2);  // [N, cells, 9 + taps]
}

TinyVlm::TinyVlm(const TinyConfig& c) : config_(c) {
  config_.text.validate("hawkeye-tiny text_config");
  vision_ = register_module("visual", TinyVision(c.vision, c.text.hidden_size));
  decoder_ = register_module("lm", std::make_shared<Decoder>(c.text));
  if (c.vision.aux_head) aux_ = register_module("visual_aux", torch::nn::Linear(c.text.hidden_size, kAuxOutputs));
  if (c.vision.quality_embedding) {
    quality_ = register_module("quality_embed", torch::nn::Linear(kQualityFeatures, c.text.hidden_size));
    torch::NoGradGuard no_grad;
    quality_->weight.zero_();
    quality_->bias.zero_();
  }
}

torch::Tensor TinyVlm::quality_features(const torch::Tensor& aux_outputs) {
  const auto aux = aux_outputs.to(torch::kFloat32);
  const auto offset = aux.narrow(1, 0, 1);  // [N, 1]: the score minus kAuxScoreOffset
  const auto score = (offset + kAuxScoreOffset).clamp(1.0, 5.0);
  const double step = 4.0 / static_cast<double>(kQualityAnchors - 1);
  const auto anchors = torch::linspace(1.0, 5.0, kQualityAnchors, aux.options()).unsqueeze(0);
  const auto bins = (1.0 - (score - anchors).abs() / step).clamp_min(0.0);  // [N, 17], two neighbours sum to 1
  return torch::cat({offset, bins, torch::softmax(aux.narrow(1, 1, kAuxTypes), 1), torch::softmax(aux.narrow(1, 1 + kAuxTypes, kAuxLevels), 1)}, 1);
}

VisualEmbeds TinyVlm::language_visuals(const VisualEmbeds& visuals) {
  if (!quality_ || visuals.images() == 0) return visuals;
  const auto q = quality_->forward(quality_features(auxiliary_outputs(visuals)).to(quality_->weight.scalar_type()));  // [N, D]
  std::vector<std::int64_t> counts;
  for (std::int64_t i = 0; i < visuals.images(); ++i) counts.push_back(visuals.tokens(i));
  VisualEmbeds out = visuals;
  const auto reps = torch::tensor(counts, torch::kInt64).to(q.device());
  out.embeds = visuals.embeds + q.repeat_interleave(reps, 0).to(visuals.embeds.scalar_type());
  return out;
}

torch::Tensor TinyVlm::auxiliary_outputs(const VisualEmbeds& visuals) {
  if (!aux_) return {};
  std::vector<torch::Tensor> pooled;
  for (std::int64_t i = 0; i < visuals.images(); ++i) pooled.push_back(visuals.embeds.narrow(0, visuals.offsets[i], visuals.tokens(i)).mean(0));
  return aux_->forward(torch::stack(pooled));
}

torch::Tensor TinyVlm::auxiliary_loss(const VisualEmbeds& visuals, const AuxTargets& targets) {
  const auto aux = auxiliary_outputs(visuals);
  if (!aux.defined()) return {};
  const auto n = static_cast<std::size_t>(visuals.images());
  if (targets.scores.size() != n || targets.types.size() != n || targets.levels.size() != n) {
    throw Error(ErrorCode::invalid_argument, "hawkeye-tiny auxiliary_loss: " + std::to_string(n) + " images but " +
                                                 std::to_string(targets.scores.size()) + " scores, " + std::to_string(targets.types.size()) +
                                                 " types and " + std::to_string(targets.levels.size()) + " levels");
  }
  std::vector<float> scores;
  std::vector<std::int64_t> types, levels;  // class indices; -100 = none (ignored)
  for (std::size_t i = 0; i < n; ++i) {
    scores.push_back(static_cast<float>(targets.scores[i]));
    types.push_back(targets.types[i] >= 1 && targets.types[i] <= kAuxTypes ? targets.types[i] - 1 : -100);
    levels.push_back(targets.levels[i] >= 1 && targets.levels[i] <= kAuxLevels ? targets.levels[i] - 1 : -100);
  }
  namespace F = torch::nn::functional;
  const auto dev = aux.device();
  const auto aux32 = aux.to(torch::kFloat32);
  auto loss = torch::smooth_l1_loss(aux32.select(1, 0) + kAuxScoreOffset, torch::tensor(scores).to(dev));
  const auto t = torch::tensor(types, torch::kInt64).to(dev), l = torch::tensor(levels, torch::kInt64).to(dev);
  const auto labelled = [](const std::vector<std::int64_t>& v) { return std::any_of(v.begin(), v.end(), [](auto x) { return x >= 0; }); };
  const auto ce = F::CrossEntropyFuncOptions().ignore_index(-100);
  if (labelled(types)) loss = loss + F::cross_entropy(aux32.narrow(1, 1, kAuxTypes), t, ce);
  if (labelled(levels)) loss = loss + F::cross_entropy(aux32.narrow(1, 1 + kAuxTypes, kAuxLevels), l, ce);
  return loss;
}

std::vector<double> TinyVlm::auxiliary_scores(const VisualEmbeds& visuals) {
  const auto aux = auxiliary_outputs(visuals);
  if (!aux.defined()) return {};
  std::vector<double> out;
  for (std::int64_t k = 0; k < aux.size(0); ++k) out.push_back(aux[k][0].item<double>() + kAuxScoreOffset);
  return out;
}

torch::Tensor TinyVlm::auxiliary_score_tensor(const VisualEmbeds& visuals) {
  const auto aux = auxiliary_outputs(visuals);
  if (!aux.defined()) return {};
  return aux.select(1, 0).to(torch::kFloat32) + kAuxScoreOffset;
}

Grid TinyVlm::visual_grid(int, int) const { return {1, config_.vision.grid_h, config_.vision.grid_w}; }

TinyInputSize tiny_input_size(int width, int height, const TinyVisionConfig& c) {
  if (width < 1 || height < 1) throw Error(ErrorCode::invalid_argument, "hawkeye-tiny: empty image");
  const int shorter = std::min(width, height), longer = std::max(width, height);
  if (longer > kTinyMaxAspectRatio * shorter) {
    throw Error(ErrorCode::limit_exceeded, "hawkeye-tiny: a " + std::to_string(width) + "x" + std::to_string(height) +
                                               " image is more elongated than the limit of " +
                                               std::to_string(static_cast<int>(kTinyMaxAspectRatio)) + ":1");
  }
  int w = width, h = height;
  const auto cap = [&] {
    const double pixels = static_cast<double>(w) * h;
    if (pixels <= static_cast<double>(c.max_pixels)) return;
    const double s = std::sqrt(c.max_pixels / pixels);
    w = std::max(2, static_cast<int>(w * s));
    h = std::max(2, static_cast<int>(h * s));
  };
  cap();
  if (std::min(w, h) < c.min_side) {
    const double s = static_cast<double>(c.min_side) / std::min(w, h);
    w = std::max<int>(c.min_side, static_cast<int>(std::ceil(w * s)));
    h = std::max<int>(c.min_side, static_cast<int>(std::ceil(h * s)));
    cap();  // min_side and max_pixels of an odd config can disagree: the pixel cap wins
  }
  return {w, h};
}

torch::Tensor TinyVlm::image_to_tensor(const Image& image) const {
  if (image.empty() || image.channels != 3) throw Error(ErrorCode::invalid_argument, "hawkeye-tiny needs an RGB image");
  cv::Mat m = as_mat(image);
  const auto [w, h] = tiny_input_size(image.width, image.height, config_.vision);
  if (w != image.width || h != image.height) {
    cv::Mat resized;
    const bool down = static_cast<double>(w) * h < static_cast<double>(image.width) * image.height;
    cv::resize(m, resized, cv::Size(w, h), 0, 0, down ? cv::INTER_AREA : cv::INTER_CUBIC);
    m = resized;
  }
  // Even sides for the 2x2 unshuffle: drop the last column/row when odd.
  m = m(cv::Rect(0, 0, w & ~1, h & ~1));
  cv::Mat contiguous = m.isContinuous() ? m : m.clone();
  auto t = torch::from_blob(contiguous.data, {contiguous.rows, contiguous.cols, 3}, torch::kUInt8)
               .permute({2, 0, 1})
               .to(torch::kFloat32)
               .div_(255.0);
  const auto mean = torch::tensor({config_.vision.mean[0], config_.vision.mean[1], config_.vision.mean[2]}, torch::kFloat32).view({3, 1, 1});
  const auto stdv = torch::tensor({config_.vision.std[0], config_.vision.std[1], config_.vision.std[2]}, torch::kFloat32).view({3, 1, 1});
  return ((t - mean) / stdv).contiguous();
}

VisionInput TinyVlm::preprocess(const std::vector<const Image*>& images) const {
  VisionInput in;
  for (const Image* img : images) {
    in.pixels.push_back(image_to_tensor(*img));
    in.grid.push_back(visual_grid(img->width, img->height));
  }
  return in;
}

namespace {
constexpr std::size_t kBackboneChunk = 1;       // without gradients (scoring, rollouts)
constexpr std::size_t kBackboneGradChunk = 4;   // with gradients (training the tower)
constexpr std::size_t kWholeGroup = static_cast<std::size_t>(-1);  // the from-scratch encoder: one batch per size
}  // namespace

VisualEmbeds TinyVlm::encode_images(const VisionInput& input) {
  VisualEmbeds out;
  const auto n = static_cast<std::int64_t>(input.pixels.size());
  const std::int64_t per = config_.vision.grid_h * config_.vision.grid_w;
  std::vector<torch::Tensor> embeds(n);
  // Images of one size go through the encoder together.
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::int64_t>> groups;
  for (std::int64_t i = 0; i < n; ++i) groups[{input.pixels[i].size(1), input.pixels[i].size(2)}].push_back(i);
  const auto dev = device();
  // Without gradients one image at a time: the backbone's early activations at native resolution are large (a
  // 512x384 image expands to 96 x 192 x 256 floats, 19 MB, in block 1) and the tower is bound by memory
  // traffic: per image, batches of 4 took 1.5-2x as long as single images (bench/torch_tower.cpp), a batch of
  // 32 2.5x as long as batches of 4. Scoring 48 images at 2 threads: 5 % less time and 32 % less peak memory
  // than batches of 4, the same scores (bench/README.md, section 5). With gradients (the vision stages'
  // 256x192 crops) single images were no faster per image, so training keeps batches of 4 and its arithmetic.
  const std::size_t chunk = !config_.vision.backbone.empty() ? (torch::GradMode::is_enabled() ? kBackboneGradChunk : kBackboneChunk)
                                                             : kWholeGroup;
  // Scoring (InferenceGraphScope, no gradients, CPU): the tower runs one image per thread, each image's layers
  // on one core. On a single image the frozen graph's layers are too small to split over cores (48 images at
  // 2 threads took as long as at 1); spread over images both cores work. Each image's values are what it gets alone.
  const bool one_per_thread = !config_.vision.backbone.empty() && InferenceGraphScope::active() &&
                              !torch::GradMode::is_enabled() && dev.is_cpu() && at::get_num_threads() > 1 && n > 1;
  if (one_per_thread) {
    // hawkeye's own threads (libtorch's at::parallel_for needs its callers built with -fopenmp): the calling
    // thread is one of the workers; each worker runs its images' layers on one core and gives back its count.
    parallel_for(static_cast<std::size_t>(n), at::get_num_threads(), [&](std::size_t i, int) {
      const torch::NoGradGuard no_grad;  // grad mode and the scope are per thread: the workers take the caller's
      const InferenceGraphScope scope;
      at::internal::lazy_init_num_threads();  // a new thread's first parallel op would set torch's count again
      const OpenMPThreadsWhile one_core(1);
      embeds[i] = vision_->forward(input.pixels[i].unsqueeze(0).to(dev))[0];
    });
  } else {
    for (const auto& [size, idx] : groups) {
      for (std::size_t from = 0; from < idx.size(); from += chunk) {
        const std::size_t to = std::min(idx.size(), from + chunk);
        std::vector<torch::Tensor> batch;
        for (std::size_t k = from; k < to; ++k) batch.push_back(input.pixels[idx[k]]);
        const auto enc = vision_->forward(torch::stack(batch).to(dev));  // [g, per, D]
        for (std::size_t k = from; k < to; ++k) embeds[idx[k]] = enc[static_cast<std::int64_t>(k - from)];
      }
    }
  }
  out.embeds = n > 0 ? torch::cat(embeds, 0) : torch::zeros({0, config_.text.hidden_size});
  out.offsets.resize(n + 1);
  for (std::int64_t i = 0; i <= n; ++i) out.offsets[i] = i * per;
  out.grid = input.grid;
  return out;
}

torch::Tensor TinyVlm::prompt_positions(const std::vector<std::int64_t>& tokens, const Grid*, std::int64_t* next) const {
  const auto L = static_cast<std::int64_t>(tokens.size());
  *next = L;
  return torch::arange(L, torch::kInt64);
}

double TinyVlm::vision_macs(int width, int height) const {
  const auto& c = config_.vision;
  if (!c.backbone.empty()) {
    const auto channels = static_cast<double>(mobilenet_v2_tap_channels(c.backbone_taps));
    const double D = static_cast<double>(config_.text.hidden_size);
    return MobileNetV2Impl::macs(height, width, static_cast<int>(c.backbone_taps.back())) +
           static_cast<double>(c.grid_h * c.grid_w) * (((c.std_pool ? 2 : 1) * channels + c.photometric_features()) * D + D * D);
  }
  double h = (height & ~1) / 2.0, w = (width & ~1) / 2.0;
  double macs = h * w * (c.mscn_input ? 16 : 12) * 9 * c.stem_channels + (c.mscn_input ? 4.0 * h * w * 2 * 49 : 0.0);
  std::int64_t ch = c.stem_channels;
  for (auto out : c.stage_channels) {
    h = std::ceil(h / 2);
    w = std::ceil(w / 2);
    macs += h * w * ch * 9 * out + h * w * out * 9 * out;
    ch = out;
  }
  const double cells = static_cast<double>(c.grid_h * c.grid_w);
  const double D = static_cast<double>(config_.text.hidden_size);
  macs += cells * ((c.std_pool ? 2 : 1) * ch * D + D * D);
  return macs;
}

nlohmann::ordered_json tiny_describe(const TinyConfig& c, std::int64_t max_new_tokens) {
  SkipInitGuard no_random_init;  // only the configuration is read
  const TinyVlm model(c);
  const auto& vc = c.vision;
  const auto& tc = c.text;
  const int w = static_cast<int>(std::sqrt(vc.max_pixels * 4.0 / 3.0)) & ~1, h = (w * 3 / 4) & ~1;
  const double vision = model.vision_macs(w, h);
  const double per_token = static_cast<double>(tc.num_layers) *
                               (2.0 * tc.hidden_size * tc.num_heads * tc.head_dim() +
                                2.0 * tc.hidden_size * tc.num_kv_heads * tc.head_dim() + 3.0 * tc.hidden_size * tc.intermediate_size) +
                           static_cast<double>(tc.hidden_size) * tc.vocab_size;
  const auto tokens = vc.grid_h * vc.grid_w;
  nlohmann::ordered_json j;
  j["visual_tokens_per_image"] = tokens;
  j["reference_resolution"] = std::to_string(w) + "x" + std::to_string(h);
  j["vision_gflops_per_image"] = 2.0 * vision / 1e9;
  j["lm_mflops_per_token"] = 2.0 * per_token / 1e6;
  j["gflops_per_image"] = (2.0 * vision + 2.0 * per_token * (tokens + max_new_tokens)) / 1e9;
  j["gflops_per_image_note"] = "vision encoder + language model over the visual tokens and max_new_tokens generated tokens; the shared text prefix is computed once per run";
  return j;
}

Architecture tiny_vlm_architecture() {
  Architecture a;
  a.name = TinyVlm::kArchitecture;
  a.create = [](const nlohmann::json& config, const std::string& source) -> std::shared_ptr<Policy> {
    return std::make_shared<TinyVlm>(TinyConfig::from_json(config, source));
  };
  a.describe = [](const ModelDir& md, std::int64_t) {
    return tiny_describe(TinyConfig::from_json(md.config, (md.dir / "config.json").string()), md.contract.sampling.max_new_tokens);
  };
  a.optional_tensors = [](const Policy& policy) {
    const auto* tiny = dynamic_cast<const TinyVlm*>(&policy);
    if (!tiny || !tiny->config().vision.quality_embedding) return std::vector<std::string>{};
    return std::vector<std::string>{"quality_embed.weight", "quality_embed.bias"};
  };
  a.load_vision_init = [](Policy& policy, const std::filesystem::path& file, const std::string& source) {
    auto* tiny = dynamic_cast<TinyVlm*>(&policy);
    if (!tiny) throw Error(ErrorCode::internal, source + ": not a hawkeye-tiny policy");
    if (!tiny->vision()->backbone) {
      throw Error(ErrorCode::invalid_argument, source + " needs an architecture with a pretrained backbone (vision_config.backbone)");
    }
    load_mobilenet_v2(*tiny->vision()->backbone, file);
  };
  return a;
}

}  // namespace hawkeye::model
