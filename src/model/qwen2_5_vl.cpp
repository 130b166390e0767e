#include "hawkeye/model/qwen2_5_vl.h"

#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "hawkeye/core/error.h"
#include "hawkeye/model/architecture.h"
#include "hawkeye/model/init.h"
#include "model/qwen_json.h"

namespace hawkeye::model {

namespace {

void require_silu(const nlohmann::json& j, const std::string& source) {
  auto it = j.find("hidden_act");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_string() || it->get<std::string>() != "silu") {
    throw Error(ErrorCode::unsupported, source + ": hidden_act " + it->dump() + " is not supported (Qwen2.5-VL uses \"silu\")");
  }
}

// The text settings of config.json as DecoderConfig reads them: top-level keys, overridden by
// text_config's, with transformers 5's rope_parameters mapped onto rope_theta + rope_scaling.
nlohmann::json text_settings(const nlohmann::json& j, const std::string& source) {
  nlohmann::json t = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "vision_config" && it.key() != "text_config") t[it.key()] = it.value();
  }
  if (j.contains("text_config") && !j["text_config"].is_null()) {
    if (!j["text_config"].is_object()) throw Error(ErrorCode::model, source + ": text_config must be an object");
    for (auto it = j["text_config"].begin(); it != j["text_config"].end(); ++it) t[it.key()] = it.value();
  }
  if (t.contains("rope_parameters") && t["rope_parameters"].is_object()) {
    const auto& rp = t["rope_parameters"];
    if (rp.contains("rope_theta")) t["rope_theta"] = rp["rope_theta"];
    if (rp.contains("mrope_section")) t["rope_scaling"] = {{"rope_type", rp.value("rope_type", std::string("default"))}, {"mrope_section", rp["mrope_section"]}};
  }
  if (!t.contains("rope_scaling") || !t["rope_scaling"].is_object() || !t["rope_scaling"].contains("mrope_section")) {
    throw Error(ErrorCode::model, source + ": missing rope_scaling.mrope_section (the multimodal rotary sections)");
  }
  const auto& rs = t["rope_scaling"];
  const std::string kind = rs.contains("rope_type") && rs["rope_type"].is_string() ? rs["rope_type"].get<std::string>()
                           : rs.contains("type") && rs["type"].is_string()        ? rs["type"].get<std::string>()
                                                                                  : "default";
  if (kind != "mrope" && kind != "default") {
    throw Error(ErrorCode::unsupported, source + ": rope type '" + kind + "' is not supported (only mrope)");
  }
  if (t.contains("use_sliding_window") && t["use_sliding_window"].is_boolean() && t["use_sliding_window"].get<bool>()) {
    throw Error(ErrorCode::unsupported, source + ": use_sliding_window=true is not supported");
  }
  require_silu(t, source);
  // Qwen2.5-VL's own default (transformers' generic default would be true).
  if (!t.contains("tie_word_embeddings") || t["tie_word_embeddings"].is_null()) t["tie_word_embeddings"] = false;
  return t;
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const auto half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Softmax attention without a mask over [B, H, L, hd] (the vision tower attends freely inside a segment).
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) return at::scaled_dot_product_attention(q, k, v);
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto B = q.size(0), H = q.size(1), L = q.size(2);
  // Queries in chunks so that one block of scores stays below ~64M floats (a 4000-patch image has
  // 16 x 4000 x 4000 scores per full-attention block).
  const std::int64_t rows = std::max<std::int64_t>(1, (64ll << 20) / std::max<std::int64_t>(1, B * H * k.size(2)));
  auto one = [&](const torch::Tensor& qc) {
    auto s = torch::matmul(qc, k.transpose(-1, -2)).mul_(scale);
    return torch::matmul(torch::softmax(s.to(torch::kFloat32), -1).to(q.scalar_type()), v);
  };
  if (rows >= L) return one(q);
  std::vector<torch::Tensor> parts;
  for (std::int64_t s = 0; s < L; s += rows) parts.push_back(one(q.narrow(2, s, std::min(rows, L - s))));
  return torch::cat(parts, 2);
}

// Attention inside contiguous segments of the rows of q, k, v [N, H, hd] (lengths sum to N); segments of
// equal length are batched. Returns [N, H, hd].
torch::Tensor segment_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const std::vector<std::int64_t>& lengths) {
  const auto N = q.size(0), H = q.size(1), hd = q.size(2);
  std::map<std::int64_t, std::vector<std::int64_t>> starts;
  std::int64_t off = 0;
  for (auto len : lengths) {
    starts[len].push_back(off);
    off += len;
  }
  TORCH_CHECK(off == N, "segment lengths do not cover the sequence");
  auto batch = [&](const torch::Tensor& x, std::int64_t n, std::int64_t len) { return x.view({n, len, H, hd}).transpose(1, 2); };
  if (starts.size() == 1) {  // every segment has one length and they tile the rows in order
    const auto len = starts.begin()->first, n = N / len;
    return attend(batch(q, n, len), batch(k, n, len), batch(v, n, len)).transpose(1, 2).reshape({N, H, hd});
  }
  std::vector<torch::Tensor> outs;
  std::vector<std::int64_t> order;
  order.reserve(N);
  for (const auto& [len, first] : starts) {
    std::vector<std::int64_t> idx;
    idx.reserve(first.size() * len);
    for (auto s : first)
      for (std::int64_t j = 0; j < len; ++j) idx.push_back(s + j);
    const auto index = torch::tensor(idx, torch::kInt64).to(q.device());
    const auto n = static_cast<std::int64_t>(first.size());
    const auto o = attend(batch(q.index_select(0, index), n, len), batch(k.index_select(0, index), n, len),
                          batch(v.index_select(0, index), n, len));
    outs.push_back(o.transpose(1, 2).reshape({n * len, H, hd}));
    order.insert(order.end(), idx.begin(), idx.end());
  }
  const auto back = torch::tensor(inverse_permutation(order), torch::kInt64).to(q.device());
  return torch::cat(outs, 0).index_select(0, back);
}

}  // namespace

// ---- configuration -------------------------------------------------------------------------------

bool QwenVisionConfig::full_attention(std::int64_t block) const {
  return std::find(fullatt_block_indexes.begin(), fullatt_block_indexes.end(), block) != fullatt_block_indexes.end();
}

QwenVisionConfig QwenVisionConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(ErrorCode::model, source + ": vision_config must be an object");
  const std::string src = source + ": vision_config";
  QwenVisionConfig c;
  c.depth = qwen_json_int(j, "depth", c.depth, src);
  c.hidden_size = qwen_json_int(j, "hidden_size", c.hidden_size, src);
  c.intermediate_size = qwen_json_int(j, "intermediate_size", c.intermediate_size, src);
  c.num_heads = qwen_json_int(j, "num_heads", c.num_heads, src);
  c.in_channels = qwen_json_int(j, "in_chans", c.in_channels, src);
  c.in_channels = qwen_json_int(j, "in_channels", c.in_channels, src);
  c.patch_size = qwen_json_int(j, "patch_size", c.patch_size, src);
  c.spatial_merge_size = qwen_json_int(j, "spatial_merge_size", c.spatial_merge_size, src);
  c.temporal_patch_size = qwen_json_int(j, "temporal_patch_size", c.temporal_patch_size, src);
  c.window_size = qwen_json_int(j, "window_size", c.window_size, src);
  c.out_hidden_size = qwen_json_int(j, "out_hidden_size", c.out_hidden_size, src);
  if (j.contains("fullatt_block_indexes")) {
    const auto& f = j["fullatt_block_indexes"];
    if (!f.is_array()) throw Error(ErrorCode::model, src + ": 'fullatt_block_indexes' must be an array of integers");
    c.fullatt_block_indexes.clear();
    for (const auto& v : f) {
      if (!v.is_number_integer()) throw Error(ErrorCode::model, src + ": 'fullatt_block_indexes' must be an array of integers");
      c.fullatt_block_indexes.push_back(v.get<std::int64_t>());
    }
  }
  if (j.contains("tokens_per_second") && j["tokens_per_second"].is_number()) c.tokens_per_second = j["tokens_per_second"].get<double>();
  require_silu(j, src);
  c.validate(src);
  return c;
}

void QwenVisionConfig::validate(const std::string& source) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::model, source + ": " + what);
  };
  check(depth > 0 && depth < 1024, "depth must be in 1..1023");
  check(hidden_size > 0 && hidden_size < (1 << 16), "hidden_size out of range");
  check(num_heads > 0 && hidden_size % num_heads == 0, "hidden_size must be a multiple of num_heads");
  check(head_dim() % 4 == 0, "the head dimension (hidden_size / num_heads) must be a multiple of 4 (2-D rotary positions)");
  check(intermediate_size > 0 && intermediate_size < (1 << 20), "intermediate_size out of range");
  check(in_channels == 3, "in_channels must be 3 (RGB)");
  check(patch_size > 0 && patch_size <= 256, "patch_size out of range");
  check(spatial_merge_size > 0 && spatial_merge_size <= 16, "spatial_merge_size out of range");
  check(temporal_patch_size > 0 && temporal_patch_size <= 16, "temporal_patch_size out of range");
  check(window_size >= patch_size * spatial_merge_size && window_size % (patch_size * spatial_merge_size) == 0,
        "window_size must be a positive multiple of patch_size x spatial_merge_size");
  check(out_hidden_size > 0 && out_hidden_size < (1 << 20), "out_hidden_size out of range");
  for (auto b : fullatt_block_indexes) check(b >= 0 && b < depth, "fullatt_block_indexes must lie in 0..depth-1");
}

nlohmann::json QwenVisionConfig::to_json() const {
  return {{"depth", depth},
          {"hidden_size", hidden_size},
          {"hidden_act", "silu"},
          {"intermediate_size", intermediate_size},
          {"num_heads", num_heads},
          {"in_chans", in_channels},
          {"in_channels", in_channels},
          {"patch_size", patch_size},
          {"spatial_merge_size", spatial_merge_size},
          {"temporal_patch_size", temporal_patch_size},
          {"window_size", window_size},
          {"out_hidden_size", out_hidden_size},
          {"fullatt_block_indexes", fullatt_block_indexes},
          {"tokens_per_second", tokens_per_second}};
}

Qwen2_5_VLConfig Qwen2_5_VLConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(ErrorCode::model, source + ": must be a JSON object");
  Qwen2_5_VLConfig c;
  if (!j.contains("vision_config")) throw Error(ErrorCode::model, source + ": missing 'vision_config'");
  c.vision = QwenVisionConfig::from_json(j["vision_config"], source);
  c.text = DecoderConfig::from_json(text_settings(j, source), source);
  c.image_token_id = qwen_json_int(j, "image_token_id", c.image_token_id, source);
  c.video_token_id = qwen_json_int(j, "video_token_id", c.video_token_id, source);
  c.vision_start_token_id = qwen_json_int(j, "vision_start_token_id", c.vision_start_token_id, source);
  c.vision_end_token_id = qwen_json_int(j, "vision_end_token_id", c.vision_end_token_id, source);
  if (c.image_token_id < 0 || c.image_token_id >= c.text.vocab_size) {
    throw Error(ErrorCode::model, source + ": image_token_id " + std::to_string(c.image_token_id) + " is outside the vocabulary of " +
                                      std::to_string(c.text.vocab_size));
  }
  if (c.vision.out_hidden_size != c.text.hidden_size) {
    throw Error(ErrorCode::model, source + ": vision_config.out_hidden_size (" + std::to_string(c.vision.out_hidden_size) +
                                      ") must equal the language model's hidden_size (" + std::to_string(c.text.hidden_size) + ")");
  }
  return c;
}

nlohmann::json Qwen2_5_VLConfig::to_json() const {
  nlohmann::json t = text.to_json();
  t.erase("attention_bias");
  t["hidden_act"] = "silu";
  t["max_position_embeddings"] = 128000;
  t["use_sliding_window"] = false;
  t["rope_scaling"] = {{"type", "mrope"}, {"rope_type", "default"}, {"mrope_section", text.mrope_section}};
  nlohmann::json j = t;
  j["architectures"] = {Qwen2_5_VL::kArchitecture};
  j["model_type"] = "qwen2_5_vl";
  j["image_token_id"] = image_token_id;
  j["video_token_id"] = video_token_id;
  j["vision_start_token_id"] = vision_start_token_id;
  j["vision_end_token_id"] = vision_end_token_id;
  j["vision_config"] = vision.to_json();
  t["model_type"] = "qwen2_5_vl_text";
  j["text_config"] = t;
  return j;
}

// ---- windows and positions ------------------------------------------------------------------------

QwenWindows qwen_window_index(const std::vector<Grid>& patch_grids, const QwenVisionConfig& c) {
  QwenWindows w;
  const std::int64_t M = c.spatial_merge_size, vw = c.window_merged(), unit = M * M;
  std::int64_t base = 0;
  for (const auto& g : patch_grids) {
    const std::int64_t T = g[0], gh = g[1] / M, gw = g[2] / M;
    for (std::int64_t t = 0; t < T; ++t) {
      for (std::int64_t r0 = 0; r0 < gh; r0 += vw) {
        for (std::int64_t c0 = 0; c0 < gw; c0 += vw) {
          const std::int64_t r1 = std::min(gh, r0 + vw), c1 = std::min(gw, c0 + vw);
          for (std::int64_t r = r0; r < r1; ++r)
            for (std::int64_t col = c0; col < c1; ++col) w.unit_order.push_back(base + (t * gh + r) * gw + col);
          w.window_patches.push_back((r1 - r0) * (c1 - c0) * unit);
        }
      }
      w.frame_patches.push_back(gh * gw * unit);
    }
    base += T * gh * gw;
  }
  return w;
}

std::vector<std::int64_t> inverse_permutation(const std::vector<std::int64_t>& order) {
  std::vector<std::int64_t> inv(order.size(), -1);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto o = order[i];
    if (o < 0 || o >= static_cast<std::int64_t>(order.size()) || inv[o] != -1) {
      throw Error(ErrorCode::internal, "inverse_permutation: not a permutation");
    }
    inv[o] = static_cast<std::int64_t>(i);
  }
  return inv;
}

torch::Tensor qwen_rope_positions(const std::vector<std::int64_t>& tokens, std::int64_t image_token_id, const Grid* grid,
                                  std::int64_t* next) {
  const auto L = static_cast<std::int64_t>(tokens.size());
  auto pos = torch::empty({3, L}, torch::kInt64);
  auto p = pos.accessor<std::int64_t, 2>();
  const auto first = std::find(tokens.begin(), tokens.end(), image_token_id);
  if (first == tokens.end()) {
    for (std::int64_t i = 0; i < L; ++i) p[0][i] = p[1][i] = p[2][i] = i;
    *next = L;
    return pos;
  }
  if (!grid) throw Error(ErrorCode::invalid_argument, "prompt has image tokens but no image");
  const std::int64_t s = first - tokens.begin();
  const std::int64_t T = (*grid)[0], H = (*grid)[1], W = (*grid)[2], n = T * H * W;
  const auto count = std::count(tokens.begin(), tokens.end(), image_token_id);
  if (count != n) {
    throw Error(ErrorCode::invalid_argument, "prompt has " + std::to_string(count) + " image placeholder tokens but its image has " +
                                                 std::to_string(n) + " visual tokens");
  }
  if (std::count(first, first + n, image_token_id) != n) {
    throw Error(ErrorCode::invalid_argument, "the image placeholder tokens of a prompt must be contiguous");
  }
  for (std::int64_t i = 0; i < s; ++i) p[0][i] = p[1][i] = p[2][i] = i;
  // Hugging Face's get_rope_index for an image: the temporal index is 0 for every frame (images have no
  // time), rows and columns count from the position after the text before the image.
  std::int64_t i = s;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t w = 0; w < W; ++w, ++i) {
        p[0][i] = s;
        p[1][i] = s + h;
        p[2][i] = s + w;
      }
  const std::int64_t after = s + std::max<std::int64_t>({0, H - 1, W - 1}) + 1;
  for (std::int64_t j = s + n; j < L; ++j) p[0][j] = p[1][j] = p[2][j] = after + (j - s - n);
  *next = L > s + n ? after + (L - s - n) : after;
  return pos;
}

// ---- modules ----------------------------------------------------------------------------------------

QwenPatchEmbedImpl::QwenPatchEmbedImpl(const QwenVisionConfig& c) {
  const std::vector<std::int64_t> k{c.temporal_patch_size, c.patch_size, c.patch_size};
  proj = register_module("proj", torch::nn::Conv3d(torch::nn::Conv3dOptions(c.in_channels, c.hidden_size, k).stride(k).bias(false)));
}

torch::Tensor QwenPatchEmbedImpl::forward(const torch::Tensor& patches) {
  // A convolution whose stride equals its kernel over one patch is a matrix product with the flattened kernel.
  const auto w = proj->weight.view({proj->weight.size(0), -1});
  return torch::matmul(patches.to(w.scalar_type()), w.t());
}

QwenVisionAttentionImpl::QwenVisionAttentionImpl(const QwenVisionConfig& c) : num_heads(c.num_heads), head_dim(c.head_dim()) {
  qkv = register_module("qkv", make_linear(c.hidden_size, 3 * c.hidden_size, true));
  proj = register_module("proj", make_linear(c.hidden_size, c.hidden_size, true));
}

QwenVisionMlpImpl::QwenVisionMlpImpl(std::int64_t hidden, std::int64_t intermediate) {
  gate_proj = register_module("gate_proj", make_linear(hidden, intermediate, true));
  up_proj = register_module("up_proj", make_linear(hidden, intermediate, true));
  down_proj = register_module("down_proj", make_linear(intermediate, hidden, true));
}

torch::Tensor QwenVisionMlpImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

QwenVisionBlockImpl::QwenVisionBlockImpl(const QwenVisionConfig& c) {
  norm1 = register_module("norm1", RMSNorm(c.hidden_size, 1e-6));
  norm2 = register_module("norm2", RMSNorm(c.hidden_size, 1e-6));
  attn = register_module("attn", QwenVisionAttention(c));
  mlp = register_module("mlp", QwenVisionMlp(c.hidden_size, c.intermediate_size));
}

QwenPatchMergerImpl::QwenPatchMergerImpl(std::int64_t context_dim, std::int64_t out_dim, std::int64_t merge)
    : unit_dim(context_dim * merge * merge) {
  ln_q = register_module("ln_q", RMSNorm(context_dim, 1e-6));
  mlp = register_module("mlp", torch::nn::Sequential(make_linear(unit_dim, unit_dim, true), torch::nn::GELU(),
                                                     make_linear(unit_dim, out_dim, true)));
}

torch::Tensor QwenPatchMergerImpl::forward(const torch::Tensor& x) { return mlp->forward(ln_q->forward(x).view({-1, unit_dim})); }

QwenVisionImpl::QwenVisionImpl(const QwenVisionConfig& c) : config(c) {
  config.validate("vision_config");
  patch_embed = register_module("patch_embed", QwenPatchEmbed(c));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.depth; ++i) blocks->push_back(QwenVisionBlock(c));
  merger = register_module("merger", QwenPatchMerger(c.hidden_size, c.out_hidden_size, c.spatial_merge_size));
  // Hugging Face's initialisation: weights ~ N(0, 0.02), biases 0, norms 1 (loading replaces them).
  if (init_skipped()) return;
  torch::NoGradGuard g;
  for (auto& item : named_parameters(true)) {
    auto& p = item.value();
    if (item.key().find("norm") != std::string::npos || item.key().find("ln_q") != std::string::npos) continue;
    if (p.dim() >= 2) p.normal_(0.0, 0.02);
    else p.zero_();
  }
}

torch::Tensor QwenVisionImpl::forward(const torch::Tensor& patches, const std::vector<Grid>& patch_grids) {
  const std::int64_t M = config.spatial_merge_size, unit = M * M, D = config.hidden_size;
  const std::int64_t H = config.num_heads, hd = config.head_dim();
  std::int64_t N = 0, max_side = 0;
  for (const auto& g : patch_grids) {
    if (g[0] < 1 || g[1] < M || g[2] < M || g[1] % M || g[2] % M) {
      throw Error(ErrorCode::invalid_argument, "vision tower: patch grid sides must be positive multiples of the merge size");
    }
    N += g[0] * g[1] * g[2];
    max_side = std::max({max_side, g[1], g[2]});
  }
  if (patches.dim() != 2 || patches.size(0) != N) {
    throw Error(ErrorCode::invalid_argument, "vision tower: expected " + std::to_string(N) + " patches, got " +
                                                 (patches.dim() == 2 ? std::to_string(patches.size(0)) : std::string("a tensor of rank ") + std::to_string(patches.dim())));
  }
  const auto dev = patches.device();
  auto x = patch_embed->forward(patches);  // [N, D]

  // 2-D rotary angles per patch (row angles, then column angles), patches in merge-unit order.
  const std::int64_t half = hd / 2;
  const auto inv_freq = torch::reciprocal(torch::pow(10000.0, torch::arange(0, half, 2, torch::kFloat32) / static_cast<double>(half)));
  const auto table = torch::outer(torch::arange(max_side, torch::kFloat32), inv_freq);  // [max_side, hd/4]
  std::vector<std::int64_t> hpos, wpos;
  hpos.reserve(N);
  wpos.reserve(N);
  for (const auto& g : patch_grids)
    for (std::int64_t t = 0; t < g[0]; ++t)
      for (std::int64_t bh = 0; bh < g[1] / M; ++bh)
        for (std::int64_t bw = 0; bw < g[2] / M; ++bw)
          for (std::int64_t mh = 0; mh < M; ++mh)
            for (std::int64_t mw = 0; mw < M; ++mw) {
              hpos.push_back(bh * M + mh);
              wpos.push_back(bw * M + mw);
            }
  auto angles = torch::cat({table.index_select(0, torch::tensor(hpos, torch::kInt64)), table.index_select(0, torch::tensor(wpos, torch::kInt64))}, 1);

  // Window order: whole merge units move together.
  const QwenWindows win = qwen_window_index(patch_grids, config);
  const auto order = torch::tensor(win.unit_order, torch::kInt64);
  angles = angles.view({N / unit, unit, half}).index_select(0, order).view({N, half});
  const auto emb = torch::cat({angles, angles}, 1).to(dev);  // [N, hd]
  const auto cos = emb.cos().unsqueeze(1), sin = emb.sin().unsqueeze(1);  // [N, 1, hd] float32
  x = x.view({N / unit, unit, D}).index_select(0, order.to(dev)).view({N, D});

  for (std::int64_t b = 0; b < config.depth; ++b) {
    auto blk = blocks[b]->as<QwenVisionBlockImpl>();
    const auto h = blk->norm1->forward(x);
    const auto qkv = blk->attn->qkv->forward(h).view({N, 3, H, hd});
    const auto dtype = qkv.scalar_type();
    auto q = qkv.select(1, 0).to(torch::kFloat32), k = qkv.select(1, 1).to(torch::kFloat32);
    q = (q * cos + rotate_half(q) * sin).to(dtype);
    k = (k * cos + rotate_half(k) * sin).to(dtype);
    const auto& segments = config.full_attention(b) ? win.frame_patches : win.window_patches;
    const auto ctx = segment_attention(q, k, qkv.select(1, 2), segments).reshape({N, D});
    x = x + blk->attn->proj->forward(ctx);
    x = x + blk->mlp->forward(blk->norm2->forward(x));
  }
  const auto merged = merger->forward(x);  // [N / unit, out], window order
  return merged.index_select(0, torch::tensor(inverse_permutation(win.unit_order), torch::kInt64).to(dev));
}

// ---- policy -----------------------------------------------------------------------------------------

Qwen2_5_VL::Qwen2_5_VL(const Qwen2_5_VLConfig& c, const QwenImageConfig& image) : config_(c), image_(image) {
  config_.text.validate("Qwen2.5-VL text config");
  // The patch geometry is the vision tower's; only the pixel limits and normalisation come from `image`.
  QwenImageConfig adopted = image;
  adopted.patch_size = static_cast<int>(c.vision.patch_size);
  adopted.merge_size = static_cast<int>(c.vision.spatial_merge_size);
  adopted.temporal_patch_size = static_cast<int>(c.vision.temporal_patch_size);
  set_image_config(adopted);
  vision_ = register_module("visual", QwenVision(c.vision));
  decoder_ = register_module("lm", std::make_shared<Decoder>(c.text));
}

void Qwen2_5_VL::set_image_config(const QwenImageConfig& image) {
  image.validate("Qwen2.5-VL image processor");
  if (image.patch_size != config_.vision.patch_size || image.merge_size != config_.vision.spatial_merge_size ||
      image.temporal_patch_size != config_.vision.temporal_patch_size) {
    throw Error(ErrorCode::model, "preprocessor_config.json: patch_size/merge_size/temporal_patch_size (" + std::to_string(image.patch_size) +
                                      "/" + std::to_string(image.merge_size) + "/" + std::to_string(image.temporal_patch_size) +
                                      ") differ from config.json's vision_config (" + std::to_string(config_.vision.patch_size) + "/" +
                                      std::to_string(config_.vision.spatial_merge_size) + "/" +
                                      std::to_string(config_.vision.temporal_patch_size) + ")");
  }
  image_ = image;
}

Grid Qwen2_5_VL::visual_grid(int width, int height) const {
  const ResizedSize s = qwen_smart_resize(height, width, image_);
  return {1, s.height / image_.factor(), s.width / image_.factor()};
}

VisionInput Qwen2_5_VL::preprocess(const std::vector<const Image*>& images) const {
  VisionInput in;
  for (const Image* img : images) {
    if (!img) throw Error(ErrorCode::invalid_argument, "preprocess: null image");
    QwenPatches p = qwen_preprocess_image(*img, image_);
    in.pixels.push_back(torch::from_blob(p.values.data(), {p.rows, p.cols}, torch::kFloat32).clone());
    const std::int64_t M = image_.merge_size;
    in.grid.push_back({p.grid_t, p.grid_h / M, p.grid_w / M});
  }
  return in;
}

VisualEmbeds Qwen2_5_VL::encode_images(const VisionInput& input) {
  VisualEmbeds out;
  const auto n = static_cast<std::int64_t>(input.pixels.size());
  if (static_cast<std::int64_t>(input.grid.size()) != n) throw Error(ErrorCode::invalid_argument, "vision input: one grid per image is required");
  out.grid = input.grid;
  out.offsets.assign(1, 0);
  if (n == 0) {
    out.embeds = torch::zeros({0, config_.text.hidden_size}, torch::TensorOptions().device(device()));
    return out;
  }
  const std::int64_t M = config_.vision.spatial_merge_size;
  std::vector<Grid> patch_grids;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& g = input.grid[i];
    patch_grids.push_back({g[0], g[1] * M, g[2] * M});
    out.offsets.push_back(out.offsets.back() + g[0] * g[1] * g[2]);
  }
  const auto patches = n == 1 ? input.pixels[0] : torch::cat(input.pixels, 0);
  out.embeds = vision_->forward(patches.to(device()), patch_grids);
  return out;
}

torch::Tensor Qwen2_5_VL::prompt_positions(const std::vector<std::int64_t>& tokens, const Grid* grid, std::int64_t* next) const {
  return qwen_rope_positions(tokens, config_.image_token_id, grid, next);
}

double Qwen2_5_VL::vision_macs(int width, int height) const { return qwen_vision_macs(config_.vision, image_, width, height); }

double qwen_vision_macs(const QwenVisionConfig& v, const QwenImageConfig& image, int width, int height) {
  const ResizedSize s = qwen_smart_resize(height, width, image);
  const double gh = s.height / v.patch_size, gw = s.width / v.patch_size, N = gh * gw;
  const double D = static_cast<double>(v.hidden_size), I = static_cast<double>(v.intermediate_size);
  const double patch = static_cast<double>(v.in_channels * v.temporal_patch_size * v.patch_size * v.patch_size);
  const QwenWindows w = qwen_window_index({{1, static_cast<std::int64_t>(gh), static_cast<std::int64_t>(gw)}}, v);
  double window_attn = 0;
  for (auto len : w.window_patches) window_attn += static_cast<double>(len) * len;
  double macs = N * patch * D;
  for (std::int64_t b = 0; b < v.depth; ++b) {
    macs += N * (4 * D * D + 3 * D * I);                                  // qkv + proj + SwiGLU
    macs += 2 * D * (v.full_attention(b) ? N * N : window_attn);          // scores + weighted values
  }
  const double U = D * v.spatial_merge_size * v.spatial_merge_size;
  macs += N / (v.spatial_merge_size * v.spatial_merge_size) * (U * U + U * static_cast<double>(v.out_hidden_size));
  return macs;
}

NameMap qwen_checkpoint_names(const std::vector<std::string>& names) {
  const bool nested = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.rfind("model.language_model.", 0) == 0 || n.rfind("model.visual.", 0) == 0;
  });
  return [nested](const std::string& name) -> std::string {
    if (name.rfind("visual.", 0) == 0) return nested ? "model." + name : name;
    if (name.rfind("lm.model.", 0) == 0) return (nested ? "model.language_model." : "model.") + name.substr(9);
    if (name == "lm.lm_head.weight") return "lm_head.weight";
    return name;
  };
}

nlohmann::ordered_json qwen_describe(const Qwen2_5_VLConfig& c, const QwenImageConfig& image, std::int64_t parameters,
                                     std::int64_t max_new_tokens) {
  const auto& t = c.text;
  const double per_token = static_cast<double>(t.num_layers) *
                               (static_cast<double>(t.hidden_size) * t.num_heads * t.head_dim() * 2 +
                                2.0 * t.hidden_size * t.num_kv_heads * t.head_dim() + 3.0 * t.hidden_size * t.intermediate_size) +
                           static_cast<double>(t.hidden_size) * t.vocab_size;
  nlohmann::ordered_json j;
  j["memory_estimate_mb_bf16"] = static_cast<double>(parameters) * 2.0 / (1 << 20);
  j["kv_cache_kb_per_token"] = 2.0 * t.num_layers * t.num_kv_heads * t.head_dim() * 2.0 / 1024.0;  // bf16 keys + values
  j["kv_cache_note"] = "bf16; twice that in float32 on CPU";
  j["image_min_pixels"] = image.min_pixels;
  j["image_max_pixels"] = image.max_pixels;
  auto at = [&](int w, int h) {
    const ResizedSize s = qwen_smart_resize(h, w, image);
    const std::int64_t tokens = static_cast<std::int64_t>(s.height / image.factor()) * (s.width / image.factor());
    const double vision = qwen_vision_macs(c.vision, image, w, h);
    nlohmann::ordered_json r;
    r["input"] = std::to_string(w) + "x" + std::to_string(h);
    r["resized"] = std::to_string(s.width) + "x" + std::to_string(s.height);
    r["visual_tokens"] = tokens;
    r["vision_gflops"] = 2.0 * vision / 1e9;
    r["gflops_per_image"] = (2.0 * vision + 2.0 * per_token * static_cast<double>(tokens + max_new_tokens)) / 1e9;
    return r;
  };
  j["lm_gflops_per_token"] = 2.0 * per_token / 1e9;
  j["per_image_1024x768"] = at(1024, 768);
  // The largest 4:3 image the processor keeps at full size.
  const int w = static_cast<int>(std::sqrt(static_cast<double>(image.max_pixels) * 4.0 / 3.0)), h = w * 3 / 4;
  j["per_image_largest_4x3"] = at(w, h);
  j["gflops_per_image_note"] = "vision tower + language model over the visual tokens and max_new_tokens generated tokens (the text prompt adds ~lm_gflops_per_token per token)";
  return j;
}

IqaContract default_qwen_contract(const std::string& model_id) {
  IqaContract c;
  c.model_id = model_id;
  c.prompt = "qhawkeye-infer";
  // Q-Hawkeye's rollout settings (docs/method.md §3); greedy scoring uses max_new_tokens only.
  c.sampling.temperature = 1.0;
  c.sampling.top_k = 50;
  c.sampling.top_p = 1.0;
  c.sampling.max_new_tokens = 2048;
  c.raw = {{"contract_source", "default for Qwen2.5-VL (the model directory has no hawkeye.json)"}};
  return c;
}

namespace {

// Image limits of a Qwen2.5-VL directory: preprocessor_config.json, then hawkeye.json's "image" section.
QwenImageConfig qwen_image_config(const ModelDir& md) {
  QwenImageConfig c;
  if (md.preprocessor.is_object()) c = QwenImageConfig::from_json(md.preprocessor, (md.dir / "preprocessor_config.json").string());
  if (md.contract.raw.is_object() && md.contract.raw.contains("image")) {
    const std::string where = (md.dir / "hawkeye.json").string() + ": image";
    const auto& img = md.contract.raw["image"];
    if (!img.is_object()) throw Error(ErrorCode::model, where + " must be an object");
    for (const char* key : {"min_pixels", "max_pixels"}) {
      if (!img.contains(key)) continue;
      if (!img[key].is_number_integer()) throw Error(ErrorCode::model, where + "." + key + " must be an integer");
      (std::string(key) == "min_pixels" ? c.min_pixels : c.max_pixels) = img[key].get<std::int64_t>();
    }
    c.validate(where);
  }
  return c;
}

}  // namespace

Architecture qwen2_5_vl_architecture() {
  Architecture a;
  a.name = Qwen2_5_VL::kArchitecture;
  a.create = [](const nlohmann::json& config, const std::string& source) -> std::shared_ptr<Policy> {
    return std::make_shared<Qwen2_5_VL>(Qwen2_5_VLConfig::from_json(config, source));
  };
  a.configure = [](Policy& policy, const ModelDir& md) {
    dynamic_cast<Qwen2_5_VL&>(policy).set_image_config(qwen_image_config(md));
  };
  a.checkpoint_names = [](const std::vector<std::string>& stored) { return qwen_checkpoint_names(stored); };
  a.ignored_tensors = [](const Policy& policy) {
    // Some tied checkpoints also store the output head (a copy of the embeddings); transformers ignores it.
    const bool tied = dynamic_cast<const Qwen2_5_VL&>(policy).config().text.tie_word_embeddings;
    return tied ? std::vector<std::string>{"lm_head.weight"} : std::vector<std::string>{};
  };
  a.cuda_dtype = torch::kBFloat16;  // a 7B model in float32 does not fit most GPUs
  a.default_contract = default_qwen_contract;
  a.extra_files = [](const Policy& policy) {
    // The image limits travel with the model (a fine-tuned copy must see images as its parent did).
    const auto& qwen = dynamic_cast<const Qwen2_5_VL&>(policy);
    return std::map<std::string, std::string>{{"preprocessor_config.json", qwen.image_config().to_json().dump(2) + "\n"}};
  };
  a.describe = [](const ModelDir& md, std::int64_t parameters) {
    // From config.json and the weight headers only: building a 7B model would take ~30 GB.
    const auto c = Qwen2_5_VLConfig::from_json(md.config, (md.dir / "config.json").string());
    auto j = qwen_describe(c, qwen_image_config(md), parameters, md.contract.sampling.max_new_tokens);
    j["contract"] = md.default_contract ? "default (no hawkeye.json)" : "hawkeye.json";
    return j;
  };
  return a;
}

}  // namespace hawkeye::model
