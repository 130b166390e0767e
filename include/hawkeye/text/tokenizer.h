// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (the Qwen2/Qwen2.5 family, GPT-2
// style models, and hawkeye's own byte tokenizer). Pipeline, as in Hugging Face tokenizers:
//   added tokens split off the raw text (longest match first, with their lstrip/rstrip/single_word flags)
//   → normalizer (NFC, NFD, NFKC, NFKD or a sequence of them)
//   → added tokens with normalized=true split off the normalized text
//   → pre-tokenizer (Split regex with Unicode classes, ByteLevel) → BPE merges by rank → ids.
// Invalid UTF-8 input is never an error: valid runs are normalized, invalid bytes are encoded as bytes.
// A Tokenizer is immutable after loading, cheap to copy (copies share the vocabulary and the word cache)
// and safe to use from several threads at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

using TokenId = std::int32_t;

// A token of tokenizer.json's "added_tokens": matched in the text before the model sees it.
struct AddedToken {
  TokenId id = -1;
  std::string content;
  bool single_word = false;  // only match when not inside a word
  bool lstrip = false;       // also swallow the whitespace on its left
  bool rstrip = false;       // also swallow the whitespace on its right
  bool normalized = false;   // matched in the normalized text rather than in the raw text
  bool special = false;      // a control token: decode(skip_special) drops it; encode(allow_special=false) ignores it
};

struct TokenizerLimits {
  std::uint64_t max_file_bytes = 256ull << 20;  // tokenizer.json larger than this is refused
};

class Tokenizer {
 public:
  // Largest token id a tokenizer.json may use (ids index dense tables).
  static constexpr TokenId kMaxTokenId = (1 << 24) - 1;

  // Reads FILE, or DIR/tokenizer.json when given a model directory. Errors: not_found, io,
  // limit_exceeded, parse (invalid JSON), corrupt_data (a field with a wrong type or value; the
  // message names the field, e.g. "tokenizer.json: model.vocab["abc"]: ..."), unsupported (a valid
  // tokenizer of a kind hawkeye does not handle, e.g. a WordPiece model).
  static Tokenizer load(const std::filesystem::path& file_or_model_dir, const TokenizerLimits& limits = {});
  // Parses tokenizer.json text; `source` names it in error messages.
  static Tokenizer from_json(std::string_view json_text, const std::string& source = "tokenizer.json");

  // Text to ids. allow_special = true: special added tokens written in the text ("<|im_start|>") become
  // their ids, as in Hugging Face; false: they are encoded as plain text (use this for untrusted text).
  // Non-special added tokens (e.g. "<think>") are matched either way.
  std::vector<TokenId> encode(std::string_view text, bool allow_special = true) const;
  void encode_append(std::string_view text, bool allow_special, std::vector<TokenId>& out) const;

  // Ids to text, like Hugging Face's decode: invalid UTF-8 (e.g. a cut multi-byte character) becomes
  // U+FFFD. skip_special drops special added tokens. Errors: invalid_argument for an id that is not in
  // the vocabulary.
  std::string decode(std::span<const TokenId> ids, bool skip_special = false) const;
  // The exact bytes, without repairing invalid UTF-8 (for streaming output token by token).
  std::string decode_bytes(std::span<const TokenId> ids, bool skip_special = false) const;

  // The bytes decode_bytes writes for one id (a view into the tokenizer). Errors: invalid_argument.
  std::string_view token_bytes(TokenId id) const;

  // Token strings are in the vocabulary's own form: byte-level tokens use the ByteLevel alphabet
  // ("Ġthe" for " the"), added tokens their content ("<|im_end|>").
  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  // token_to_id, or Error(model) naming the token and this tokenizer's source.
  TokenId require_id(std::string_view token) const;

  // One more than the largest id (model vocabulary and added tokens).
  std::size_t vocab_size() const;
  // Number of tokens of the BPE model (without added tokens).
  std::size_t model_vocab_size() const;
  std::size_t merge_count() const;
  const std::vector<AddedToken>& added_tokens() const;
  // The added token with this id, or nullptr.
  const AddedToken* added_token(TokenId id) const;
  bool is_special(TokenId id) const;
  // Where the tokenizer came from (file path or the source given to from_json).
  const std::string& source() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Unicode NFC of a text; valid runs are normalized, invalid UTF-8 bytes are kept as they are.
std::string normalize_nfc(std::string_view text);

// Replaces each maximal invalid UTF-8 subpart by U+FFFD.
std::string repair_utf8(std::string_view text);

}  // namespace hawkeye
