// Private: the state behind hawkeye::Tokenizer, shared by the loader and the encoder.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "hawkeye/text/tokenizer.h"
#include "text/bpe.h"
#include "text/normalizer.h"
#include "text/regex.h"

namespace hawkeye {

namespace text_detail {

// One pre-tokenizer step, applied to every piece produced by the steps before it.
struct PreTokenizerStep {
  enum class Kind { split, byte_level } kind = Kind::split;
  std::unique_ptr<Regex> regex;  // split: the pattern; byte_level: GPT-2's pattern when use_regex
  bool remove_matches = false;   // split behaviour "Removed" (otherwise "Isolated")
  bool add_prefix_space = false; // byte_level
};

// Finds added tokens in a text: leftmost match, longest first (Hugging Face uses a leftmost-longest
// Aho-Corasick automaton; added tokens are few, so a first-byte filter and direct compares suffice).
struct AddedTokenMatcher {
  struct Entry {
    std::string content;  // as matched (normalized content for normalized tokens)
    std::size_t token;    // index into Impl::added
  };
  std::vector<Entry> entries;                       // sorted by content length, longest first
  std::array<std::vector<std::uint32_t>, 256> by_first_byte;  // entry indices
  bool empty() const { return entries.empty(); }
};

}  // namespace text_detail

struct Tokenizer::Impl {
  std::string source;
  std::vector<text_detail::NormalForm> normalizer;
  std::vector<text_detail::PreTokenizerStep> steps;
  std::unique_ptr<text_detail::BpeModel> bpe;
  std::size_t model_vocab_size = 0;

  std::vector<AddedToken> added;
  std::unordered_map<std::string, std::size_t> added_by_content;
  text_detail::AddedTokenMatcher raw_matcher;         // normalized == false
  text_detail::AddedTokenMatcher normalized_matcher;  // normalized == true

  // Indexed by id: the bytes decode() writes, and what kind of id it is.
  enum IdKind : std::uint8_t { kUnused = 0, kModel = 1, kAdded = 2, kAddedSpecial = 3 };
  std::vector<std::string> id_bytes;
  std::vector<std::uint8_t> id_kind;
  std::vector<std::int32_t> added_index;  // id -> index into added, or -1
};

namespace text_detail {
std::shared_ptr<const Tokenizer::Impl> load_tokenizer_json(std::string_view json_text, const std::string& source);
}  // namespace text_detail

}  // namespace hawkeye
