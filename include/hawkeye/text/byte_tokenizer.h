// hawkeye's own byte-level tokenizer for its small models: the 256 byte tokens (ids 0..255, id = byte
// value, written in the ByteLevel alphabet so the same tokenizer.json code path serves it), no merges,
// then the chat-template tokens Qwen2.5-VL uses and the four answer tags, so that a tiny model writes
// "<think>" in one token instead of seven. Shipped as resources/tokenizers/hawkeye-byte/tokenizer.json,
// which tests keep identical to tokenizer_json().
#pragma once
#include <cstddef>
#include <string>

#include "hawkeye/text/tokenizer.h"

namespace hawkeye::byte_tokenizer {

// Special tokens (special = true: dropped by decode(skip_special), ignored by encode(allow_special=false)).
inline constexpr TokenId kEndOfText = 256;    // <|endoftext|>   end of document, padding; a stop token
inline constexpr TokenId kImStart = 257;      // <|im_start|>    start of a chat turn
inline constexpr TokenId kImEnd = 258;        // <|im_end|>      end of a chat turn; the stop token
inline constexpr TokenId kVisionStart = 259;  // <|vision_start|> before an image's tokens
inline constexpr TokenId kVisionEnd = 260;    // <|vision_end|>   after an image's tokens
inline constexpr TokenId kImagePad = 261;     // <|image_pad|>    one per visual token
// Answer tags: added tokens, not special (decode keeps them), normalized = false.
inline constexpr TokenId kThinkOpen = 262;    // <think>
inline constexpr TokenId kThinkClose = 263;   // </think>
inline constexpr TokenId kAnswerOpen = 264;   // <answer>
inline constexpr TokenId kAnswerClose = 265;  // </answer>
inline constexpr std::size_t kVocabSize = 266;

// The tokenizer.json text (deterministic: same bytes on every call and platform).
std::string tokenizer_json();

// The tokenizer itself (parsed from tokenizer_json()).
Tokenizer make_tokenizer();

}  // namespace hawkeye::byte_tokenizer
