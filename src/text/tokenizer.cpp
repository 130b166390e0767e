// Encoding and decoding with a loaded tokenizer.json (see tokenizer_load.cpp for the loader).
#include "hawkeye/text/tokenizer.h"

#include <utf8proc.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "text/byte_level.h"
#include "text/tokenizer_impl.h"
#include "text/utf8.h"

namespace hawkeye {

using text_detail::AddedTokenMatcher;
using text_detail::BpeModel;
using text_detail::PreTokenizerStep;

namespace {

// Rust's char::is_alphanumeric, approximated with general categories (letters, marks, numbers); used
// by single_word added tokens.
bool is_word_char(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
      return true;
    default:
      return false;
  }
}

// The code point that ends at `end` (or -1 when the bytes there are not valid UTF-8).
long last_char_before(std::string_view s, std::size_t end) {
  std::size_t b = end;
  for (int k = 0; k < 4 && b > 0; ++k) {
    --b;
    if ((static_cast<unsigned char>(s[b]) & 0xC0) != 0x80) break;
  }
  char32_t cp;
  std::size_t bad;
  const std::size_t n = utf8::decode(s, b, cp, bad);
  return (n != 0 && b + n == end) ? static_cast<long>(cp) : -1;
}

long first_char_at(std::string_view s, std::size_t pos) {
  char32_t cp;
  std::size_t bad;
  return utf8::decode(s, pos, cp, bad) ? static_cast<long>(cp) : -1;
}

// Splits text at added tokens. on_text(view) gets the text between them, on_token(id) each token.
// A match is taken leftmost-longest; a special token when !allow_special, or a single_word token inside
// a word, is left in the text (as Hugging Face does with the match it rejects).
template <typename OnText, typename OnToken>
void split_added(std::string_view text, const AddedTokenMatcher& m, const std::vector<AddedToken>& added,
                 bool allow_special, OnText&& on_text, OnToken&& on_token) {
  if (m.empty()) {
    if (!text.empty()) on_text(text);
    return;
  }
  std::size_t last = 0;  // end of the previous token (start of pending text)
  std::size_t pos = 0;
  const std::size_t n = text.size();
  while (pos < n) {
    const auto& candidates = m.by_first_byte[static_cast<unsigned char>(text[pos])];
    if (candidates.empty()) {
      ++pos;
      continue;
    }
    const AddedTokenMatcher::Entry* hit = nullptr;
    for (std::uint32_t e : candidates) {
      const auto& entry = m.entries[e];
      if (text.compare(pos, entry.content.size(), entry.content) == 0) {
        hit = &entry;
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    const AddedToken& tok = added[hit->token];
    std::size_t start = pos, stop = pos + hit->content.size();
    bool accept = allow_special || !tok.special;
    if (accept && tok.single_word) {
      const long before = start > 0 ? last_char_before(text, start) : -1;
      const long after = stop < n ? first_char_at(text, stop) : -1;
      accept = !(before >= 0 && is_word_char(static_cast<char32_t>(before))) &&
               !(after >= 0 && is_word_char(static_cast<char32_t>(after)));
    }
    if (!accept) {
      pos = stop;
      continue;
    }
    if (tok.lstrip) {
      while (start > last) {
        const long c = last_char_before(text, start);
        if (c < 0 || !utf8::is_white_space(static_cast<char32_t>(c))) break;
        std::string tmp;
        utf8::append(tmp, static_cast<char32_t>(c));
        start -= tmp.size();
      }
    }
    if (tok.rstrip) {
      while (stop < n) {
        char32_t cp;
        std::size_t bad;
        const std::size_t len = utf8::decode(text, stop, cp, bad);
        if (len == 0 || !utf8::is_white_space(cp)) break;
        stop += len;
      }
    }
    if (start > last) on_text(text.substr(last, start - last));
    on_token(tok.id);
    last = pos = stop;
  }
  if (last < n) on_text(text.substr(last));
}

struct EncodeRun {
  const Tokenizer::Impl& impl;
  std::vector<TokenId>& out;
  BpeModel::Scratch scratch;
  bool valid = true;

  void pieces(std::size_t k, std::string_view piece) {
    if (piece.empty()) return;
    if (k == impl.steps.size()) {
      impl.bpe->encode_word(piece, out, scratch);
      return;
    }
    const PreTokenizerStep& step = impl.steps[k];
    if (step.kind == PreTokenizerStep::Kind::byte_level && step.add_prefix_space && piece.front() != ' ') {
      std::string prefixed;
      prefixed.reserve(piece.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(piece);
      split(k, step, prefixed);
      return;
    }
    split(k, step, piece);
  }

  void split(std::size_t k, const PreTokenizerStep& step, std::string_view piece) {
    if (!step.regex) {
      pieces(k + 1, piece);
      return;
    }
    std::size_t prev = 0;
    step.regex->for_each_match(piece, valid, [&](std::size_t b, std::size_t e) {
      if (b > prev) pieces(k + 1, piece.substr(prev, b - prev));
      if (!step.remove_matches) pieces(k + 1, piece.substr(b, e - b));
      prev = e;
    });
    if (prev < piece.size()) pieces(k + 1, piece.substr(prev));
  }

  void model_text(std::string_view text) {
    valid = utf8::is_valid(text);
    pieces(0, text);
  }

  void section(std::string_view raw, bool allow_special) {
    std::string normalized;
    std::string_view text = raw;
    if (!impl.normalizer.empty()) {
      normalized = text_detail::normalize(raw, impl.normalizer);
      text = normalized;
    }
    split_added(text, impl.normalized_matcher, impl.added, allow_special,
                [&](std::string_view t) { model_text(t); }, [&](TokenId id) { out.push_back(id); });
  }
};

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& file_or_model_dir, const TokenizerLimits& limits) {
  std::filesystem::path file = file_or_model_dir;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    file /= "tokenizer.json";
    if (!std::filesystem::exists(file, ec)) {
      throw Error(ErrorCode::not_found, file_or_model_dir.string() + ": model directory has no tokenizer.json");
    }
  }
  const std::string text = read_file(file, limits.max_file_bytes);
  return Tokenizer(text_detail::load_tokenizer_json(text, file.string()));
}

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& source) {
  return Tokenizer(text_detail::load_tokenizer_json(json_text, source));
}

void Tokenizer::encode_append(std::string_view text, bool allow_special, std::vector<TokenId>& out) const {
  EncodeRun run{*impl_, out, {}, true};
  split_added(text, impl_->raw_matcher, impl_->added, allow_special,
              [&](std::string_view t) { run.section(t, allow_special); }, [&](TokenId id) { out.push_back(id); });
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  encode_append(text, allow_special, ids);
  return ids;
}

namespace {
[[noreturn]] void unknown_id(TokenId id, const Tokenizer::Impl& impl) {
  throw Error(ErrorCode::invalid_argument, "token id " + std::to_string(id) + " is not in the vocabulary of " +
                                               impl.source + " (size " + std::to_string(impl.id_kind.size()) + ")");
}
}  // namespace

std::string_view Tokenizer::token_bytes(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_kind.size() || impl_->id_kind[id] == Impl::kUnused) {
    unknown_id(id, *impl_);
  }
  return impl_->id_bytes[id];
}

std::string Tokenizer::decode_bytes(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_kind.size() || impl_->id_kind[id] == Impl::kUnused) {
      unknown_id(id, *impl_);
    }
    if (skip_special && impl_->id_kind[id] == Impl::kAddedSpecial) continue;
    out.append(impl_->id_bytes[id]);
  }
  return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes = decode_bytes(ids, skip_special);
  if (utf8::is_valid(bytes)) return bytes;
  return utf8::repair(bytes);
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_by_content.find(std::string(token)); it != impl_->added_by_content.end()) {
    return impl_->added[it->second].id;
  }
  std::string bytes;
  std::size_t i = 0;
  while (i < token.size()) {
    char32_t cp;
    std::size_t bad;
    const std::size_t n = utf8::decode(token, i, cp, bad);
    if (n == 0) return std::nullopt;
    const int b = text_detail::kByteLevel.byte_of(cp);
    if (b < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(b));
    i += n;
  }
  const auto& vocab = impl_->bpe->vocab();
  if (auto it = vocab.find(bytes); it != vocab.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_kind.size()) return std::nullopt;
  if (impl_->added_index[id] >= 0) return impl_->added[impl_->added_index[id]].content;
  if (impl_->id_kind[id] != Impl::kModel) return std::nullopt;
  std::string token;
  for (unsigned char c : impl_->id_bytes[id]) utf8::append(token, text_detail::kByteLevel.byte_to_char[c]);
  return token;
}

TokenId Tokenizer::require_id(std::string_view token) const {
  if (auto id = token_to_id(token)) return *id;
  throw Error(ErrorCode::model, impl_->source + ": the tokenizer has no token " + std::string(token));
}

std::size_t Tokenizer::vocab_size() const { return impl_->id_kind.size(); }
std::size_t Tokenizer::model_vocab_size() const { return impl_->model_vocab_size; }
std::size_t Tokenizer::merge_count() const { return impl_->bpe->merge_count(); }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
const std::string& Tokenizer::source() const { return impl_->source; }

const AddedToken* Tokenizer::added_token(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->added_index.size() || impl_->added_index[id] < 0) return nullptr;
  return &impl_->added[impl_->added_index[id]];
}

bool Tokenizer::is_special(TokenId id) const {
  return id >= 0 && static_cast<std::size_t>(id) < impl_->id_kind.size() && impl_->id_kind[id] == Impl::kAddedSpecial;
}

std::string normalize_nfc(std::string_view text) {
  return text_detail::normalize(text, {text_detail::NormalForm::nfc});
}

std::string repair_utf8(std::string_view text) { return utf8::repair(text); }

}  // namespace hawkeye
