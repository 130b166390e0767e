// The Policy interface (docs/architecture.md §4): everything above the model layer drives a vision-language
// policy through these calls, whatever its architecture.
//
//   VisionInput  in = policy.preprocess(images);          // decode-independent pixels -> model input
//   VisualEmbeds vis = policy.encode_images(in);          // once per image
//   KVCache cache; auto logits = policy.prefill(prompts, vis, cache);   // [B, V] at each prompt's end
//   cache = cache.expand(K); ... policy.decode_step(cache, next_tokens) // [B*K, V]
//   auto lp = policy.token_logprobs(prompts, vis, completions);         // [B, Lc], with or without autograd
//
// Prompts are token ids in which the model's image placeholder token (image_token_id) stands for the visual
// tokens of the row's image, in order; their count must equal the image's visual token count.
// The longest prefix common to all rows and free of image tokens is computed once (batch 1) and shared.
#pragma once
#include <mutex>
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "hawkeye/image/image.h"
#include "hawkeye/model/decoder.h"
#include "hawkeye/model/kv_cache.h"

namespace hawkeye::model {

using Grid = std::array<std::int64_t, 3>;  // visual token grid (t, h, w); tokens = t*h*w

struct VisionInput {
  std::vector<torch::Tensor> pixels;  // one per image, model-specific layout (e.g. [3, H, W] normalised)
  std::vector<Grid> grid;             // visual token grid per image
};

struct VisualEmbeds {
  torch::Tensor embeds;               // [sum of tokens, D]
  std::vector<std::int64_t> offsets;  // image i owns rows offsets[i] .. offsets[i+1]-1 (size = images + 1)
  std::vector<Grid> grid;
  std::int64_t images() const { return static_cast<std::int64_t>(grid.size()); }
  std::int64_t tokens(std::int64_t i) const { return offsets[i + 1] - offsets[i]; }
};

struct PromptBatch {
  std::vector<std::vector<std::int64_t>> tokens;  // one prompt per row
  std::vector<std::int64_t> image;                // per row: image index in VisualEmbeds, -1 = none
  std::int64_t rows() const { return static_cast<std::int64_t>(tokens.size()); }
};

// What an auxiliary head learns from, one entry per image of the VisualEmbeds: the quality score (the
// contract's scale), the KADID distortion type id (1..25) and level (1..5), 0 where the manifest has none.
struct AuxTargets {
  std::vector<double> scores;
  std::vector<int> types, levels;
};

struct CompletionBatch {
  torch::Tensor tokens;  // [B, Lc] int64, right-padded
  torch::Tensor mask;    // [B, Lc] bool: true for real tokens
};

class Policy : public torch::nn::Module {
 public:
  ~Policy() override = default;

  virtual std::string architecture() const = 0;
  virtual std::int64_t image_token_id() const = 0;
  // Visual token grid of an image of this size after the model's preprocessing.
  virtual Grid visual_grid(int width, int height) const = 0;
  virtual VisionInput preprocess(const std::vector<const Image*>& images) const = 0;
  virtual VisualEmbeds encode_images(const VisionInput& input) = 0;
  virtual Decoder& decoder() = 0;
  // Rotary positions of a prompt: [L] (1-D) or [3, L] (multimodal); sets *next to the position of the
  // token that follows the prompt.
  virtual torch::Tensor prompt_positions(const std::vector<std::int64_t>& tokens, const Grid* grid,
                                         std::int64_t* next) const = 0;
  virtual int position_dims() const { return 1; }
  // Estimated multiply-accumulates of encoding one image of this size (for `hawkeye info`).
  virtual double vision_macs(int width, int height) const = 0;
  // The most elongated image (longer side / shorter side) preprocess accepts; 0 = any. Scoring and training
  // set it in their ImageLimits, so a longer strip is refused from its header, before it is decoded.
  virtual double max_aspect_ratio() const { return 0; }
  // Keeps normalisation statistics (BatchNorm running means) fixed even in training mode, so that RL
  // fine-tuning does not move them and a sequence's log-probabilities do not depend on its batch.
  virtual void freeze_norm_statistics(bool frozen) { (void)frozen; }
  // An auxiliary quality head on the visual tokens, used only by the warm start to ground them: its layout,
  // its loss terms and how it reads a score belong to the architecture. auxiliary_loss: the head's loss on the
  // images of `visuals` against `targets` (a float32 scalar, differentiable when autograd is on; sft.aux_weight
  // weighs it, metrics.jsonl logs it as aux_loss), or an undefined tensor when the model has no head.
  // auxiliary_scores: the head's quality score of each image on the contract's scale (validation of a stage
  // without text, source "auxiliary_head"), or empty when the model has no head.
  virtual torch::Tensor auxiliary_loss(const VisualEmbeds& visuals, const AuxTargets& targets) {
    (void)visuals;
    (void)targets;
    return {};
  }
  virtual std::vector<double> auxiliary_scores(const VisualEmbeds& visuals) { (void)visuals; return {}; }
  // The same scores as a float32 [N] tensor, differentiable when autograd is on (sft.twin_rank_weight ranks an
  // image above its degraded twin with them); undefined when the model has no head.
  virtual torch::Tensor auxiliary_score_tensor(const VisualEmbeds& visuals) { (void)visuals; return {}; }
  virtual bool has_auxiliary_head() const { return false; }
  // The visual tokens as the language model reads them (hawkeye-tiny's quality embedding adds to them);
  // by default the encoder's output unchanged.
  virtual VisualEmbeds language_visuals(const VisualEmbeds& visuals) { return visuals; }

  torch::Device device() const;
  std::int64_t parameter_count() const;

  // Runs the prompts into `cache` (which must be empty) and returns the logits of the last prompt token
  // of every row [B, V]. `reserve` pre-allocates cache room for that many decoding steps.
  torch::Tensor prefill(const PromptBatch& prompts, const VisualEmbeds& visuals, KVCache& cache,
                        std::int64_t reserve = 0);
  // Feeds one token per row [B] and returns the next logits [B, V].
  torch::Tensor decode_step(KVCache& cache, const torch::Tensor& tokens);
  // Final hidden states [B, Lc, D] that predict each completion token (teacher forcing).
  torch::Tensor completion_hidden(const PromptBatch& prompts, const VisualEmbeds& visuals,
                                  const CompletionBatch& completions);
  // Log-probability of each completion token under the policy [B, Lc], float32 whatever the model's dtype
  // (0 where the mask is false).
  // Differentiable when autograd is on; the logits are produced in slices of rows to bound memory.
  torch::Tensor token_logprobs(const PromptBatch& prompts, const VisualEmbeds& visuals,
                               const CompletionBatch& completions);

  // Forgets the memoised shared-prefix keys/values (they are also invalidated automatically when any
  // parameter changes in place, e.g. by an optimiser step or a weight load).
  void clear_prefix_cache();

 protected:
  // Embeds a batch of rows: text embeddings with each row's visual embeddings spliced in at the
  // image placeholder positions. Checks the placeholder count.
  torch::Tensor embed_rows(const std::vector<std::vector<std::int64_t>>& tokens, std::int64_t from,
                           const std::vector<std::int64_t>& image, const VisualEmbeds& visuals);

 private:
  struct Prepared;
  Prepared prepare(const PromptBatch& prompts, const VisualEmbeds& visuals);
  // The keys/values of the prompts' shared prefix; memoised without autograd. Safe to call from several threads
  // at once (generate_in_parts): the memo is read and replaced under memo_mutex_, and handed out by value.
  KVSegment shared_prefix(const std::vector<std::int64_t>& prefix);
  std::uint64_t parameter_stamp() const;

  std::mutex memo_mutex_;
  std::vector<std::int64_t> memo_tokens_;
  std::uint64_t memo_stamp_ = 0;
  KVSegment memo_;
};

}  // namespace hawkeye::model
