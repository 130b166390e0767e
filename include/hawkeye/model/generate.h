// Generation: batched over images x rollouts, with the KV cache, greedy or sampled (temperature, top-k,
// top-p). Every sequence has its own random stream seeded from (request seed, sample index), so a
// sequence's tokens do not depend on which other sequences share its batch.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hawkeye/model/policy.h"

namespace hawkeye::model {

struct SamplingParams {
  bool greedy = false;           // argmax decoding (temperature, top-k, top-p ignored)
  double temperature = 1.0;
  std::int64_t top_k = 50;       // 0 = no top-k cut
  double top_p = 1.0;            // 1 = no nucleus cut
  std::int64_t max_new_tokens = 64;
  std::vector<std::int64_t> stop_ids;  // generation of a row ends after any of these (included in tokens)
  // Ids >= vocab_limit are never produced (checkpoints such as Qwen2.5's pad their embedding matrix beyond
  // the tokenizer's ids); 0 = every id. Returned log-probs stay those of the full distribution.
  std::int64_t vocab_limit = 0;
};

struct GenerationRequest {
  std::vector<std::int64_t> prompt;  // prompt ids with image placeholders
  std::int64_t image = -1;           // index into the VisualEmbeds given to generate()
  std::int64_t num_samples = 1;      // K rollouts of this prompt (prompt prefilled once, cache expanded)
  std::uint64_t seed = 0;
};

struct GeneratedSequence {
  std::int64_t request = 0;
  std::int64_t sample = 0;
  std::vector<std::int64_t> tokens;  // generated ids, stop token included when one ended the row
  std::vector<float> logprobs;       // log pi(token) under the policy's full distribution (temperature 1)
  std::string finish_reason;         // "stop" or "length"
  std::string text;                  // filled when a detokenizer is given
};

struct GenerationStats {
  double prefill_seconds = 0, decode_seconds = 0, sample_seconds = 0;
  // Filled by callers that encode the images themselves (model::score_images): image preprocessing (resize,
  // normalisation, patching) and the vision tower.
  double preprocess_seconds = 0, encode_seconds = 0;
  std::int64_t generated_tokens = 0, steps = 0;
};

using Detokenizer = std::function<std::string(const std::vector<std::int64_t>&)>;

// Runs without autograd. Output: one sequence per (request, sample), in request order then sample order.
std::vector<GeneratedSequence> generate(Policy& policy, const VisualEmbeds& visuals,
                                        const std::vector<GenerationRequest>& requests, const SamplingParams& sampling,
                                        const Detokenizer& detokenize = nullptr, GenerationStats* stats = nullptr);

// generate() for a small language model on several cores: the requests are cut into `parts` contiguous parts of
// about equal rows (num_samples), and each part is generated alone on one core by one of `threads` threads (its own
// OpenMP count of 1: no barriers between the cores, so no cost from a passive wait policy). The sequences come back
// in request order, as generate() returns them. A sequence's values depend on the parts (the rows it shares a batch
// with change its log-probs in the last bits), never on `threads`: a caller that keeps `parts` fixed (GRPO: set by the
// micro-batch's rows) may give it however many threads are free. parts <= 1: generate() on one core. Stats:
// tokens summed, steps the most of any part, seconds the parts' split of prefill/decode/sample scaled to the wall time.
std::vector<GeneratedSequence> generate_in_parts(Policy& policy, const VisualEmbeds& visuals,
                                                 const std::vector<GenerationRequest>& requests, const SamplingParams& sampling,
                                                 int parts, int threads, const Detokenizer& detokenize = nullptr,
                                                 GenerationStats* stats = nullptr);

// Picks a token from one row of logits with the row's own generator; returns the token id. Exposed for tests.
std::int64_t sample_token(const float* logits, std::int64_t vocab, const SamplingParams& sampling,
                          std::uint64_t* rng_state);

}  // namespace hawkeye::model
