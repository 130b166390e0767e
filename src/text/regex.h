// Private: the pre-tokenizer regex (PCRE2 with UTF + UCP, JIT-compiled). Patterns come from
// tokenizer.json, written for Oniguruma (what Hugging Face tokenizers use); \s and \S are rewritten to
// Oniguruma's meaning (Unicode White_Space), which differs from PCRE2's in U+180E.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace hawkeye::text_detail {

class Regex {
 public:
  // Errors: parse (the message names `where` and the offset in the pattern).
  Regex(std::string_view pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(begin, end) for every non-empty, non-overlapping match, left to right. `valid_utf8`
  // says whether the subject is known to be valid UTF-8; invalid bytes never match anything.
  template <typename F>
  void for_each_match(std::string_view subject, bool valid_utf8, F&& on_match) const {
    find_all(subject, valid_utf8, [](void* ctx, std::size_t b, std::size_t e) { (*static_cast<F*>(ctx))(b, e); },
             &on_match);
  }

  const std::string& pattern() const { return pattern_; }

 private:
  using Callback = void (*)(void*, std::size_t, std::size_t);
  void find_all(std::string_view subject, bool valid_utf8, Callback cb, void* ctx) const;
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> strict_;   // for subjects known to be valid UTF-8 (no UTF check at match time)
  std::unique_ptr<Code> lenient_;  // PCRE2_MATCH_INVALID_UTF: for subjects with invalid bytes
};

// Rewrites \s and \S (outside and inside character classes) to Oniguruma's White_Space set.
// Throws Error(unsupported) for \S inside a character class.
std::string translate_whitespace_classes(std::string_view pattern, const std::string& where);

// Escapes a literal string for use in a PCRE2 pattern.
std::string escape_literal(std::string_view s);

}  // namespace hawkeye::text_detail
