#include "hawkeye/model/decoder.h"

#include <cmath>

#include "hawkeye/core/error.h"
#include "hawkeye/model/init.h"

namespace hawkeye::model {

namespace {

std::int64_t get_int(const nlohmann::json& j, const char* key, const std::string& source, std::int64_t fallback = -1) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback >= 0) return fallback;
    throw Error(ErrorCode::model, source + ": missing '" + key + "'");
  }
  if (!it->is_number_integer()) throw Error(ErrorCode::model, source + ": '" + key + "' must be an integer");
  return it->get<std::int64_t>();
}

double get_double(const nlohmann::json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw Error(ErrorCode::model, std::string("'") + key + "' must be a number");
  return it->get<double>();
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const auto half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Appends `x` [B, H, L, D] (or [B, L]) along dim `dim` into a segment tensor, in place when no gradient is
// recorded and capacity allows, else by concatenation.
torch::Tensor append(torch::Tensor& store, const torch::Tensor& x, std::int64_t length, std::int64_t dim,
                     std::int64_t reserve) {
  const std::int64_t add = x.size(dim);
  if (torch::GradMode::is_enabled() || x.requires_grad()) {
    store = length == 0 ? x : torch::cat({store.narrow(dim, 0, length), x}, dim);
    return store;
  }
  if (!store.defined() || length == 0 || store.size(dim) < length + add) {
    auto sizes = x.sizes().vec();
    const std::int64_t want = std::max<std::int64_t>(length + add + reserve, length == 0 ? 0 : 2 * (length + add));
    sizes[dim] = want;
    auto grown = torch::empty(sizes, x.options());
    if (length > 0) grown.narrow(dim, 0, length).copy_(store.narrow(dim, 0, length));
    store = grown;
  }
  store.narrow(dim, length, add).copy_(x);
  return store.narrow(dim, 0, length + add);
}

}  // namespace

DecoderConfig DecoderConfig::from_json(const nlohmann::json& j, const std::string& source) {
  DecoderConfig c;
  c.vocab_size = get_int(j, "vocab_size", source);
  c.hidden_size = get_int(j, "hidden_size", source);
  c.num_layers = get_int(j, "num_hidden_layers", source);
  c.num_heads = get_int(j, "num_attention_heads", source);
  c.num_kv_heads = get_int(j, "num_key_value_heads", source, c.num_heads);
  c.intermediate_size = get_int(j, "intermediate_size", source);
  c.rope_theta = get_double(j, "rope_theta", 10000.0);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", 1e-6);
  if (j.contains("tie_word_embeddings")) {
    if (!j["tie_word_embeddings"].is_boolean()) throw Error(ErrorCode::model, source + ": 'tie_word_embeddings' must be true or false");
    c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  if (j.contains("attention_bias") && j["attention_bias"].is_boolean()) c.attention_bias = j["attention_bias"].get<bool>();
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object() && j["rope_scaling"].contains("mrope_section")) {
    const auto& s = j["rope_scaling"]["mrope_section"];
    if (!s.is_array()) throw Error(ErrorCode::model, source + ": rope_scaling.mrope_section must be an array");
    for (const auto& v : s) {
      if (!v.is_number_integer()) throw Error(ErrorCode::model, source + ": rope_scaling.mrope_section must hold integers");
      c.mrope_section.push_back(v.get<std::int64_t>());
    }
  }
  c.validate(source);
  return c;
}

void DecoderConfig::validate(const std::string& source) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::model, source + ": " + what);
  };
  check(vocab_size > 0 && vocab_size < (1ll << 31), "vocab_size = " + std::to_string(vocab_size) + ": expected 1 .. 2147483647");
  check(hidden_size > 0 && hidden_size < (1ll << 20), "hidden_size = " + std::to_string(hidden_size) + ": expected 1 .. 1048575");
  check(num_layers > 0 && num_layers < 1024, "num_hidden_layers must be in 1..1023");
  check(num_heads > 0 && hidden_size % num_heads == 0, "hidden_size must be a multiple of num_attention_heads");
  check(head_dim() % 2 == 0, "head dimension must be even (rotary positions)");
  check(num_kv_heads > 0 && num_heads % num_kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads");
  check(intermediate_size > 0 && intermediate_size < (1ll << 24),
        "intermediate_size = " + std::to_string(intermediate_size) + ": expected 1 .. 16777215");
  check(rope_theta > 0 && std::isfinite(rope_theta), "rope_theta must be positive and finite");
  check(rms_norm_eps > 0 && rms_norm_eps < 1, "rms_norm_eps must be in (0, 1)");
  if (!mrope_section.empty()) {
    std::int64_t sum = 0;
    for (auto s : mrope_section) {
      check(s > 0, "mrope_section entries must be positive");
      sum += s;
    }
    check(mrope_section.size() == 3 && sum == head_dim() / 2, "mrope_section must have 3 entries summing to head_dim/2");
  }
}

nlohmann::json DecoderConfig::to_json() const {
  nlohmann::json j = {{"vocab_size", vocab_size},
                      {"hidden_size", hidden_size},
                      {"num_hidden_layers", num_layers},
                      {"num_attention_heads", num_heads},
                      {"num_key_value_heads", num_kv_heads},
                      {"intermediate_size", intermediate_size},
                      {"rope_theta", rope_theta},
                      {"rms_norm_eps", rms_norm_eps},
                      {"tie_word_embeddings", tie_word_embeddings},
                      {"attention_bias", attention_bias}};
  if (!mrope_section.empty()) j["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", mrope_section}};
  return j;
}

RMSNormImpl::RMSNormImpl(std::int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // Normalise in float32 whatever the storage dtype (as Qwen2 does), then scale.
  const auto xf = x.to(torch::kFloat32);
  const auto var = xf.pow(2).mean(-1, true);
  return weight * (xf * torch::rsqrt(var + eps)).to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const DecoderConfig& c)
    : num_heads(c.num_heads), num_kv_heads(c.num_kv_heads), head_dim(c.head_dim()) {
  const auto D = c.hidden_size;
  q_proj = register_module("q_proj", make_linear(D, num_heads * head_dim, c.attention_bias));
  k_proj = register_module("k_proj", make_linear(D, num_kv_heads * head_dim, c.attention_bias));
  v_proj = register_module("v_proj", make_linear(D, num_kv_heads * head_dim, c.attention_bias));
  o_proj = register_module("o_proj", make_linear(num_heads * head_dim, D, false));
}

MlpImpl::MlpImpl(std::int64_t hidden, std::int64_t intermediate) {
  gate_proj = register_module("gate_proj", make_linear(hidden, intermediate, false));
  up_proj = register_module("up_proj", make_linear(hidden, intermediate, false));
  down_proj = register_module("down_proj", make_linear(intermediate, hidden, false));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const DecoderConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", Mlp(c.hidden_size, c.intermediate_size));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

DecoderModelImpl::DecoderModelImpl(const DecoderConfig& c) {
  embed_tokens = register_module("embed_tokens", make_embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

Decoder::Decoder(const DecoderConfig& c) : config_(c) {
  config_.validate("decoder config");
  model_ = register_module("model", DecoderModel(c));
  if (!c.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", make_linear(c.hidden_size, c.vocab_size, false));
  }
  // Hugging Face's Qwen2 initialisation: every linear and embedding weight ~ N(0, 0.02), biases 0.
  // (torch's default N(0, 1) embedding makes tied output logits explode: an initial loss of ~250 nats.)
  if (!init_skipped()) {
    torch::NoGradGuard g;
    for (auto& item : named_parameters(true)) {
      const auto& name = item.key();
      auto& p = item.value();
      if (name.find("norm") != std::string::npos) continue;  // RMSNorm weights stay 1
      if (p.dim() >= 2) p.normal_(0.0, 0.02);
      else p.zero_();
    }
  }
  const auto Dh = c.head_dim();
  inv_freq_ = 1.0 / torch::pow(torch::tensor(c.rope_theta, torch::kFloat64),
                               torch::arange(0, Dh, 2, torch::kFloat64) / static_cast<double>(Dh));
  inv_freq_ = inv_freq_.to(torch::kFloat32);  // derived from the config: not a weight, not saved
}

torch::Tensor Decoder::logits(const torch::Tensor& hidden) {
  if (lm_head_) return lm_head_->forward(hidden);
  return torch::matmul(hidden, model_->embed_tokens->weight.t());
}

std::int64_t Decoder::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor Decoder::rope_cos_sin(const torch::Tensor& positions, torch::Tensor* sin_out) const {
  const auto inv = inv_freq_.to(positions.device());
  torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv;  // [..., B, L, Dh/2]
  if (!config_.mrope_section.empty()) {
    TORCH_CHECK(positions.dim() == 3 && positions.size(0) == 3, "multimodal rotary positions must be [3, B, L]");
    std::vector<torch::Tensor> parts;
    std::int64_t start = 0;
    for (std::size_t s = 0; s < config_.mrope_section.size(); ++s) {
      parts.push_back(freqs[static_cast<std::int64_t>(s)].narrow(-1, start, config_.mrope_section[s]));
      start += config_.mrope_section[s];
    }
    freqs = torch::cat(parts, -1);
  } else {
    TORCH_CHECK(positions.dim() == 2, "rotary positions must be [B, L]");
  }
  const auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);  // [B, 1, L, Dh]
  *sin_out = emb.sin();
  return emb.cos();
}

torch::Tensor Decoder::forward(const DecoderChunk& chunk, const KVSegment* prefix, KVSegment& out, std::int64_t reserve) {
  const auto B = chunk.embeds.size(0);
  const auto L = chunk.embeds.size(1);
  const auto H = config_.num_heads, Hkv = config_.num_kv_heads, Dh = config_.head_dim(), G = H / Hkv;
  const auto dtype = chunk.embeds.scalar_type();
  const std::int64_t past = out.length;
  TORCH_CHECK(past == 0 || out.valid.size(0) == B, "cache rows do not match the chunk's batch");
  if (out.k.empty()) {
    out.k.resize(config_.num_layers);
    out.v.resize(config_.num_layers);
  }

  torch::Tensor sin;
  torch::Tensor cos = rope_cos_sin(chunk.positions, &sin);
  cos = cos.to(dtype);
  sin = sin.to(dtype);

  // Masks (true = may attend). Own segment: valid keys, causal over slots past..past+L-1.
  const torch::Tensor valid_all = append(out.valid, chunk.valid, past, 1, reserve);  // [B, T]
  const std::int64_t T = past + L;
  const auto key_index = torch::arange(T, torch::TensorOptions().device(chunk.embeds.device()));
  const auto query_index = torch::arange(past, T, torch::TensorOptions().device(chunk.embeds.device()));
  const auto causal = key_index.unsqueeze(0) <= query_index.unsqueeze(1);  // [L, T]
  auto own_mask = valid_all.unsqueeze(1) & causal.unsqueeze(0);           // [B, L, T]
  own_mask = own_mask.unsqueeze(1).unsqueeze(1).expand({B, 1, G, L, T}).reshape({B, 1, G * L, T});
  torch::Tensor prefix_mask;
  const bool use_prefix = prefix && !prefix->empty();
  if (use_prefix) {
    prefix_mask = prefix->valid.narrow(1, 0, prefix->length).unsqueeze(1).unsqueeze(1);  // [Bp, 1, 1, Tp]
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const double neg = -1e30;  // finite: a padded query with no visible key stays finite (and is never used)

  torch::Tensor x = chunk.embeds;
  auto& layers = *model_->layers;
  for (std::int64_t i = 0; i < config_.num_layers; ++i) {
    auto layer = layers[i]->as<DecoderLayerImpl>();
    auto& attn = *layer->self_attn;
    const auto h = layer->input_layernorm->forward(x);
    auto q = attn.q_proj->forward(h).view({B, L, H, Dh}).transpose(1, 2);
    auto k = attn.k_proj->forward(h).view({B, L, Hkv, Dh}).transpose(1, 2);
    auto v = attn.v_proj->forward(h).view({B, L, Hkv, Dh}).transpose(1, 2);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    const auto k_all = append(out.k[i], k, past, 2, reserve);  // [B, Hkv, T, Dh]
    const auto v_all = append(out.v[i], v, past, 2, reserve);
    const auto qg = q.reshape({B, Hkv, G * L, Dh});
    auto scores = torch::matmul(qg, k_all.transpose(-1, -2)).mul_(scale);  // [B, Hkv, G*L, T]
    scores = scores.to(torch::kFloat32).masked_fill(own_mask.logical_not(), neg);
    torch::Tensor ctx;
    if (use_prefix) {
      const auto kp = prefix->k[i].narrow(2, 0, prefix->length);
      const auto vp = prefix->v[i].narrow(2, 0, prefix->length);
      const auto Tp = prefix->length;
      // One prefix shared by every row (the usual case): fold the rows into the matrix dimension instead of
      // letting matmul broadcast (copy) the prefix keys and values once per row at every step.
      const bool fold = kp.size(0) == 1 && B > 1;
      const auto rows_first = [&](const torch::Tensor& t) {  // [B, Hkv, M, X] -> [Hkv, B*M, X]
        return t.transpose(0, 1).reshape({Hkv, -1, t.size(-1)});
      };
      const auto batch_first = [&](const torch::Tensor& t) {  // [Hkv, B*M, X] -> [B, Hkv, M, X]
        return t.view({Hkv, B, -1, t.size(-1)}).transpose(0, 1);
      };
      auto sp = fold ? batch_first(torch::matmul(rows_first(qg), kp[0].transpose(-1, -2)))
                     : torch::matmul(qg, kp.transpose(-1, -2));  // [B, Hkv, G*L, Tp]
      sp = sp.mul(scale).to(torch::kFloat32).masked_fill(prefix_mask.logical_not(), neg);
      const auto p = torch::softmax(torch::cat({sp, scores}, -1), -1).to(dtype);
      const auto pp = p.narrow(-1, 0, Tp);
      const auto ctx_prefix = fold ? batch_first(torch::matmul(rows_first(pp), vp[0])) : torch::matmul(pp, vp);
      ctx = ctx_prefix + torch::matmul(p.narrow(-1, Tp, T), v_all);
    } else {
      ctx = torch::matmul(torch::softmax(scores, -1).to(dtype), v_all);
    }
    ctx = ctx.reshape({B, H, L, Dh}).transpose(1, 2).reshape({B, L, H * Dh});
    x = x + attn.o_proj->forward(ctx);
    x = x + layer->mlp->forward(layer->post_attention_layernorm->forward(x));
  }
  out.length = T;
  return model_->norm->forward(x);
}

KVCache KVCache::expand(std::int64_t times) const {
  KVCache c;
  c.shared = shared;
  c.rows.length = rows.length;
  for (std::size_t i = 0; i < rows.k.size(); ++i) {
    c.rows.k.push_back(rows.k[i].narrow(2, 0, rows.length).repeat_interleave(times, 0));
    c.rows.v.push_back(rows.v[i].narrow(2, 0, rows.length).repeat_interleave(times, 0));
  }
  if (rows.valid.defined()) c.rows.valid = rows.valid.narrow(1, 0, rows.length).repeat_interleave(times, 0);
  c.next_pos = next_pos.repeat_interleave(times, 0);
  return c;
}

KVCache KVCache::select(const torch::Tensor& row_index) const {
  KVCache c;
  c.shared = shared;
  c.rows.length = rows.length;
  const auto idx = row_index.to(next_pos.device());
  for (std::size_t i = 0; i < rows.k.size(); ++i) {
    c.rows.k.push_back(rows.k[i].narrow(2, 0, rows.length).index_select(0, idx));
    c.rows.v.push_back(rows.v[i].narrow(2, 0, rows.length).index_select(0, idx));
  }
  if (rows.valid.defined()) c.rows.valid = rows.valid.narrow(1, 0, rows.length).index_select(0, idx);
  c.next_pos = next_pos.index_select(0, idx);
  return c;
}

}  // namespace hawkeye::model
