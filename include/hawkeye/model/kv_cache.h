// The key/value cache of a decoder, in two segments:
//  - `shared`: a prefix common to every row (batch 1, e.g. the system prompt), computed once and
//    broadcast in attention without copies;
//  - `rows`: per-row keys/values (batch B), appended in place into preallocated capacity when no gradient
//    is recorded, concatenated when one is (so log-prob passes with autograd use the same code).
// Padding: `valid` marks real tokens; padded slots are never attended to.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace hawkeye::model {

struct KVSegment {
  std::vector<torch::Tensor> k, v;  // per layer: [Bseg, H_kv, capacity, D_head]
  torch::Tensor valid;              // [Bseg, capacity] bool
  std::int64_t length = 0;          // filled slots
  bool empty() const { return length == 0; }
};

struct KVCache {
  KVSegment shared;          // batch 1 or empty
  KVSegment rows;            // batch B
  torch::Tensor next_pos;    // [B] int64: rope position of the next token of each row
  std::int64_t batch() const { return next_pos.defined() ? next_pos.size(0) : 0; }
  std::int64_t total_length() const { return shared.length + rows.length; }

  // Repeats every row `times` times in place of it (row r -> rows r*times .. r*times+times-1): K rollouts
  // of one prompt without recomputing it. The shared prefix is not copied.
  KVCache expand(std::int64_t times) const;
  // Keeps the given rows (e.g. drops finished sequences).
  KVCache select(const torch::Tensor& row_index) const;
};

}  // namespace hawkeye::model
