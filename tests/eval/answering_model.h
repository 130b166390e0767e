// Tiny hand-wired hawkeye-tiny models for the scoring and evaluation tests. A random model never writes a
// parsable answer, so these set every weight by hand:
//
//  - vision: the stem, one stride-2 stage and the projector pass the mean normalised intensity of each grid
//    cell (+3, so GELU stays monotone) into embedding dimension 0, and a constant 20 into dimension 15;
//  - decoder (1 layer): every query attends (almost only) to the image tokens — keys read dimension 15, which
//    only visual embeddings have; the rotary pair used turns < 1e-4 rad over the prompt (rope_theta 1e9) —
//    and copies their mean brightness feature into dimension 0 of the residual stream; the MLP is zero;
//  - output head: a bigram chain "\n" -> <think> o k </think> <answer> DIGIT </answer> <|im_end|>, where the
//    DIGIT after <answer> maximises lambda * (d * s - d^2 / 2), i.e. d = round(s) for s = a * feature + b:
//    dark images get 1, bright ones 5. Greedy decoding is deterministic; sampling (T = 1) spreads the digit
//    over the neighbours of s (lambda = 2), the chain tokens keep a margin of > 60 logits.
//
// Mode no_answer: </think> is followed by <|im_end|> (every answer fails to parse: "no_answer_tag").
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "hawkeye/core/error.h"
#include "hawkeye/core/version.h"
#include "hawkeye/image/image.h"
#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/tiny_vlm.h"

namespace hawkeye::test {

enum class AnswerMode { brightness_digit, no_answer };

inline model::TinyConfig answering_config() {
  model::TinyConfig c;
  c.vision.stem_channels = 2;
  c.vision.stage_channels = {2};
  c.vision.grid_h = 2;
  c.vision.grid_w = 3;
  c.vision.std_pool = false;
  c.vision.batch_norm = false;
  c.text.vocab_size = 266;  // hawkeye-byte: 256 bytes + 10 special tokens
  c.text.hidden_size = 16;
  c.text.num_layers = 1;
  c.text.num_heads = 2;
  c.text.num_kv_heads = 2;
  c.text.intermediate_size = 8;
  c.text.rope_theta = 1e9;
  c.text.tie_word_embeddings = false;
  c.image_token_id = 261;
  return c;
}

// aux_head: an auxiliary quality head too, whose score is the brightness feature itself (about 1.2 for black,
// 5.1 for white; Readout::head clamps it to 1..5).
inline std::shared_ptr<model::TinyVlm> answering_policy(AnswerMode mode, bool aux_head = false) {
  auto config = answering_config();
  config.vision.aux_head = aux_head;
  auto m = std::make_shared<model::TinyVlm>(config);
  torch::NoGradGuard g;
  auto params = m->named_parameters(true);
  for (auto& p : params) {
    if (p.key().find("norm") != std::string::npos) p.value().fill_(1.0);
    else p.value().zero_();
  }
  auto at = [&](const std::string& name) -> torch::Tensor {
    if (!params.contains(name)) throw Error(ErrorCode::internal, "answering_policy: no parameter " + name);
    return params[name];
  };
  // Vision: mean of the 12 unshuffled channels (+3) -> stage -> projector dimension 0; constant 20 in dim 15.
  at("visual.stem.weight").select(0, 0).select(1, 1).select(1, 1).fill_(1.0 / 12.0);
  at("visual.stem.bias")[0] = 3.0;
  at("visual.down.0.weight")[0][0][1][1] = 1.0;
  at("visual.proj1.weight")[0][0] = 1.0;
  at("visual.proj2.weight")[0][0] = 1.0;
  at("visual.proj2.bias")[15] = 20.0;
  if (aux_head) {  // score = kAuxScoreOffset (3) + feature - 3
    at("visual_aux.weight")[0][0] = 1.0;
    at("visual_aux.bias")[0] = -model::TinyVlm::kAuxScoreOffset;
  }

  // Decoder: attention to image tokens (dimension 15) copying their dimension 0.
  const std::string l = "lm.model.layers.0.self_attn.";
  for (int h = 0; h < 2; ++h) {
    at(l + "q_proj.bias")[h * 8 + 3] = 16.0;        // rotary pair 3 of each head (slowest frequency)
    at(l + "k_proj.weight")[h * 8 + 3][15] = 1.0;
  }
  at(l + "v_proj.weight")[0][0] = 1.0;
  at(l + "o_proj.weight")[0][0] = 1.0;

  // Bigram chain: each chain token has its own slot dimension (2..8); the successor's head row reads it.
  auto embed = at("lm.model.embed_tokens.weight");
  auto head = at("lm.lm_head.weight");
  const double B = 10.0, S = 25.0;
  int slot = 2;
  auto link = [&](std::initializer_list<int> from, int to) {
    for (int f : from) embed[f][slot] = B;
    head[to][slot] = S;
    ++slot;
  };
  const int nl = '\n', think = 262, end_think = 263, answer = 264, end_answer = 265, im_end = 258;
  link({nl}, think);
  link({think}, 'o');
  link({'o'}, 'k');
  link({'k'}, end_think);
  if (mode == AnswerMode::no_answer) {
    link({end_think}, im_end);
  } else {
    link({end_think}, answer);
    link({'1', '2', '3', '4', '5'}, end_answer);
    link({end_answer}, im_end);
    // After <answer> (dimension 1 = 4): logit_d = lambda * (d * (a * f + b) - d^2 / 2) + M.
    const double cc = 4.0, lambda = 2.0, a = 4.6, b = 0.3, M = 60.0;
    embed[answer][1] = cc;
    for (int d = 1; d <= 5; ++d) {
      head['0' + d][0] = lambda * d * a;
      head['0' + d][1] = (lambda * (d * b - d * d / 2.0) + M) / cc;
    }
  }
  m->eval();
  return m;
}

// Writes a complete model directory (hawkeye-byte tokenizer, contract with the given sampling defaults).
inline void write_answering_model(const std::filesystem::path& dir, AnswerMode mode = AnswerMode::brightness_digit,
                                  const std::string& model_id = "answering-test", bool aux_head = false) {
  auto policy = answering_policy(mode, aux_head);
  model::IqaContract contract;
  contract.model_id = model_id;
  contract.prompt = "qhawkeye-infer";
  contract.sampling.max_new_tokens = 16;
  model::save_model_dir(dir, *policy, policy->config().to_json(), contract,
                        resource_dir() / "tokenizers" / "hawkeye-byte" / "tokenizer.json");
}

// A flat grey image (level 0..255) with a little seeded texture, so files are not trivially identical.
inline Image grey_image(int w, int h, int level, std::uint64_t seed) {
  Image img(w, h, 3);
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& p : img.pixels) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    const int v = level + static_cast<int>(s % 9) - 4;
    p = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
  }
  return img;
}

}  // namespace hawkeye::test
