#include "hawkeye/model/policy.h"

#include <algorithm>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"

namespace hawkeye::model {

struct Policy::Prepared {
  std::vector<std::int64_t> prefix;  // shared prefix tokens (may be empty)
  DecoderChunk rows;                 // per-row remainder, left-padded to a common length S
  torch::Tensor next_pos;            // [B]
  std::int64_t S = 0;
};

torch::Device Policy::device() const {
  for (const auto& p : parameters()) return p.device();
  return torch::kCPU;
}

std::int64_t Policy::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::uint64_t Policy::parameter_stamp() const {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (const auto& p : parameters()) {
    h = splitmix64(h ^ reinterpret_cast<std::uintptr_t>(p.data_ptr()));
    h = splitmix64(h ^ static_cast<std::uint64_t>(p._version()));
  }
  return h;
}

void Policy::clear_prefix_cache() {
  const std::lock_guard<std::mutex> lock(memo_mutex_);
  memo_tokens_.clear();
  memo_ = KVSegment{};
  memo_stamp_ = 0;
}

torch::Tensor Policy::embed_rows(const std::vector<std::vector<std::int64_t>>& tokens, std::int64_t from,
                                 const std::vector<std::int64_t>& image, const VisualEmbeds& visuals) {
  auto& dec = decoder();
  const auto dev = device();
  const auto img_tok = image_token_id();
  std::vector<torch::Tensor> rows;
  rows.reserve(tokens.size());
  for (std::size_t r = 0; r < tokens.size(); ++r) {
    const auto& t = tokens[r];
    std::vector<std::int64_t> ids(t.begin() + from, t.end());
    const auto id_tensor = torch::tensor(ids, torch::kInt64).to(dev);
    auto emb = dec.embed(id_tensor);
    const auto n_img = std::count(ids.begin(), ids.end(), img_tok);
    if (n_img > 0 || image[r] >= 0) {
      if (image[r] < 0) {
        throw Error(ErrorCode::invalid_argument, "prompt row " + std::to_string(r) + " has image tokens but no image");
      }
      if (image[r] >= visuals.images()) {
        throw Error(ErrorCode::invalid_argument, "prompt row " + std::to_string(r) + " names image " +
                                                     std::to_string(image[r]) + " of " + std::to_string(visuals.images()));
      }
      const auto need = visuals.tokens(image[r]);
      if (n_img != need) {
        throw Error(ErrorCode::invalid_argument, "prompt row " + std::to_string(r) + " has " + std::to_string(n_img) +
                                                     " image placeholder tokens but its image has " +
                                                     std::to_string(need) + " visual tokens");
      }
      const auto mask = (id_tensor == img_tok).unsqueeze(-1);
      const auto vis = visuals.embeds.narrow(0, visuals.offsets[image[r]], need).to(emb.scalar_type());
      emb = emb.masked_scatter(mask, vis);
    }
    rows.push_back(emb);
  }
  const std::int64_t S = rows.empty() ? 0 : std::max_element(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
                                                 return a.size(0) < b.size(0);
                                               })->size(0);
  for (auto& e : rows) {
    if (e.size(0) < S) e = torch::cat({torch::zeros({S - e.size(0), e.size(1)}, e.options()), e}, 0);
  }
  return torch::stack(rows, 0);
}

Policy::Prepared Policy::prepare(const PromptBatch& prompts, const VisualEmbeds& visuals) {
  const auto B = prompts.rows();
  if (B == 0) throw Error(ErrorCode::invalid_argument, "empty prompt batch");
  if (static_cast<std::int64_t>(prompts.image.size()) != B) {
    throw Error(ErrorCode::invalid_argument, "prompt batch: one image index per row is required");
  }
  const auto img_tok = image_token_id();
  std::size_t min_len = SIZE_MAX;
  for (const auto& t : prompts.tokens) min_len = std::min(min_len, t.size());
  if (min_len == 0) throw Error(ErrorCode::invalid_argument, "prompt batch: empty prompt");
  // Longest common prefix without image tokens, leaving at least one token per row.
  std::size_t P = 0;
  const auto& first = prompts.tokens[0];
  while (P + 1 < min_len && first[P] != img_tok) {
    bool same = true;
    for (const auto& t : prompts.tokens) same = same && t[P] == first[P];
    if (!same) break;
    ++P;
  }
  Prepared prep;
  prep.prefix.assign(first.begin(), first.begin() + P);
  const auto dev = device();
  std::int64_t S = 0;
  for (const auto& t : prompts.tokens) S = std::max<std::int64_t>(S, static_cast<std::int64_t>(t.size() - P));
  prep.S = S;
  const int pd = position_dims();
  auto positions = torch::zeros(pd == 1 ? std::vector<std::int64_t>{B, S} : std::vector<std::int64_t>{pd, B, S}, torch::kInt64);
  auto valid = torch::zeros({B, S}, torch::kBool);
  std::vector<std::int64_t> next(B);
  for (std::int64_t r = 0; r < B; ++r) {
    const auto& t = prompts.tokens[r];
    const Grid* grid = prompts.image[r] >= 0 && prompts.image[r] < visuals.images() ? &visuals.grid[prompts.image[r]] : nullptr;
    const auto pos = prompt_positions(t, grid, &next[r]);  // [L] or [3, L]
    const std::int64_t len = static_cast<std::int64_t>(t.size() - P);
    const std::int64_t pad = S - len;
    if (pd == 1) positions[r].narrow(0, pad, len).copy_(pos.narrow(0, P, len));
    else positions.select(1, r).narrow(1, pad, len).copy_(pos.narrow(1, P, len));
    valid[r].narrow(0, pad, len).fill_(true);
  }
  prep.rows.embeds = embed_rows(prompts.tokens, static_cast<std::int64_t>(P), prompts.image, language_visuals(visuals));
  prep.rows.positions = positions.to(dev);
  prep.rows.valid = valid.to(dev);
  prep.next_pos = torch::tensor(next, torch::kInt64).to(dev);
  return prep;
}

KVSegment Policy::shared_prefix(const std::vector<std::int64_t>& prefix) {
  if (prefix.empty()) return KVSegment{};
  const bool memoise = !torch::GradMode::is_enabled();
  if (memoise) {
    const std::lock_guard<std::mutex> lock(memo_mutex_);
    if (prefix == memo_tokens_ && memo_stamp_ == parameter_stamp() && !memo_.empty()) return memo_;
  }
  const auto dev = device();
  const auto P = static_cast<std::int64_t>(prefix.size());
  DecoderChunk chunk;
  chunk.embeds = decoder().embed(torch::tensor(prefix, torch::kInt64).to(dev)).unsqueeze(0);
  std::int64_t next = 0;
  auto pos = prompt_positions(prefix, nullptr, &next);  // [P] or [3, P]
  chunk.positions = (position_dims() == 1 ? pos.unsqueeze(0) : pos.unsqueeze(1)).to(dev);
  chunk.valid = torch::ones({1, P}, torch::TensorOptions().dtype(torch::kBool).device(dev));
  KVSegment seg;
  decoder().forward(chunk, nullptr, seg);
  if (memoise) {
    // The same prefix computed by two threads at once gives the same values; the later one is kept.
    const std::lock_guard<std::mutex> lock(memo_mutex_);
    memo_ = seg;
    memo_tokens_ = prefix;
    memo_stamp_ = parameter_stamp();
  }
  return seg;
}

torch::Tensor Policy::prefill(const PromptBatch& prompts, const VisualEmbeds& visuals, KVCache& cache, std::int64_t reserve) {
  if (cache.rows.length != 0 || cache.shared.length != 0) throw Error(ErrorCode::internal, "prefill needs an empty cache");
  auto prep = prepare(prompts, visuals);
  cache.shared = shared_prefix(prep.prefix);
  const auto hidden = decoder().forward(prep.rows, &cache.shared, cache.rows, reserve);
  cache.next_pos = prep.next_pos;
  return decoder().logits(hidden.select(1, hidden.size(1) - 1));
}

torch::Tensor Policy::decode_step(KVCache& cache, const torch::Tensor& tokens) {
  const auto B = cache.batch();
  if (tokens.dim() != 1 || tokens.size(0) != B) {
    throw Error(ErrorCode::invalid_argument, "decode_step: expected " + std::to_string(B) + " tokens");
  }
  const auto dev = device();
  DecoderChunk chunk;
  chunk.embeds = decoder().embed(tokens.to(dev).view({B, 1}));
  auto pos = cache.next_pos.view({B, 1});
  chunk.positions = position_dims() == 1 ? pos : pos.unsqueeze(0).expand({position_dims(), B, 1});
  chunk.valid = torch::ones({B, 1}, torch::TensorOptions().dtype(torch::kBool).device(dev));
  const auto hidden = decoder().forward(chunk, &cache.shared, cache.rows, 16);
  cache.next_pos = cache.next_pos + 1;
  return decoder().logits(hidden.select(1, 0));
}

torch::Tensor Policy::completion_hidden(const PromptBatch& prompts, const VisualEmbeds& visuals,
                                        const CompletionBatch& completions) {
  const auto B = prompts.rows();
  if (completions.tokens.dim() != 2 || completions.tokens.size(0) != B || !completions.mask.defined() ||
      completions.mask.sizes() != completions.tokens.sizes()) {
    throw Error(ErrorCode::invalid_argument, "completions must be [B, Lc] tokens with a mask of the same shape");
  }
  const auto Lc = completions.tokens.size(1);
  auto prep = prepare(prompts, visuals);
  const KVSegment prefix = shared_prefix(prep.prefix);
  const auto dev = device();
  const auto comp_tokens = completions.tokens.to(dev);
  DecoderChunk chunk;
  chunk.embeds = torch::cat({prep.rows.embeds, decoder().embed(comp_tokens)}, 1);
  const auto offs = torch::arange(Lc, torch::TensorOptions().dtype(torch::kInt64).device(dev));
  auto comp_pos = prep.next_pos.unsqueeze(1) + offs.unsqueeze(0);  // [B, Lc]
  if (position_dims() == 1) {
    chunk.positions = torch::cat({prep.rows.positions, comp_pos}, 1);
  } else {
    chunk.positions = torch::cat({prep.rows.positions, comp_pos.unsqueeze(0).expand({position_dims(), B, Lc})}, 2);
  }
  chunk.valid = torch::cat({prep.rows.valid, completions.mask.to(dev).to(torch::kBool)}, 1);
  KVSegment tmp;
  const auto hidden = decoder().forward(chunk, &prefix, tmp);
  return hidden.narrow(1, prep.S - 1, Lc);
}

torch::Tensor Policy::token_logprobs(const PromptBatch& prompts, const VisualEmbeds& visuals,
                                     const CompletionBatch& completions) {
  const auto hidden = completion_hidden(prompts, visuals, completions);  // [B, Lc, D]
  const auto B = hidden.size(0), Lc = hidden.size(1);
  const auto V = decoder().config().vocab_size;
  const auto tokens = completions.tokens.to(hidden.device());
  const auto mask = completions.mask.to(hidden.device()).to(torch::kBool);
  // Bound the [rows, Lc, V] logits slice to ~64 MB of float32.
  const std::int64_t per = std::max<std::int64_t>(1, (16ll << 20) / std::max<std::int64_t>(1, Lc * V));
  std::vector<torch::Tensor> parts;
  for (std::int64_t s = 0; s < B; s += per) {
    const auto n = std::min(per, B - s);
    const auto logits = decoder().logits(hidden.narrow(0, s, n)).to(torch::kFloat32);
    const auto lp = torch::log_softmax(logits, -1).gather(-1, tokens.narrow(0, s, n).unsqueeze(-1)).squeeze(-1);
    parts.push_back(lp);
  }
  auto out = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
  return out.masked_fill(mask.logical_not(), 0.0);
}

}  // namespace hawkeye::model
