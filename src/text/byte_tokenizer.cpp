#include "hawkeye/text/byte_tokenizer.h"

#include <nlohmann/json.hpp>

#include "text/byte_level.h"
#include "text/utf8.h"

namespace hawkeye::byte_tokenizer {

namespace {

using ojson = nlohmann::ordered_json;

ojson byte_level_step() {
  return ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
}

ojson added(TokenId id, const char* content, bool special) {
  return ojson{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
               {"rstrip", false},     {"normalized", false}, {"special", special}};
}

}  // namespace

std::string tokenizer_json() {
  ojson vocab = ojson::object();
  for (int b = 0; b < 256; ++b) {
    std::string token;
    utf8::append(token, text_detail::kByteLevel.byte_to_char[b]);
    vocab[token] = b;
  }
  ojson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = ojson::array({
      added(kEndOfText, "<|endoftext|>", true),
      added(kImStart, "<|im_start|>", true),
      added(kImEnd, "<|im_end|>", true),
      added(kVisionStart, "<|vision_start|>", true),
      added(kVisionEnd, "<|vision_end|>", true),
      added(kImagePad, "<|image_pad|>", true),
      added(kThinkOpen, "<think>", false),
      added(kThinkClose, "</think>", false),
      added(kAnswerOpen, "<answer>", false),
      added(kAnswerClose, "</answer>", false),
  });
  root["normalizer"] = ojson{{"type", "NFC"}};
  // No merges, so no regex split is needed: every byte is its own token.
  root["pre_tokenizer"] = byte_level_step();
  root["post_processor"] = byte_level_step();
  root["decoder"] = byte_level_step();
  root["model"] = ojson{{"type", "BPE"},
                        {"dropout", nullptr},
                        {"unk_token", nullptr},
                        {"continuing_subword_prefix", ""},
                        {"end_of_word_suffix", ""},
                        {"fuse_unk", false},
                        {"byte_fallback", false},
                        {"ignore_merges", false},
                        {"vocab", vocab},
                        {"merges", ojson::array()}};
  return root.dump(2) + "\n";
}

Tokenizer make_tokenizer() { return Tokenizer::from_json(tokenizer_json(), "hawkeye-byte tokenizer"); }

}  // namespace hawkeye::byte_tokenizer
