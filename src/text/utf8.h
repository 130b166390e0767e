// Private UTF-8 helpers of the text layer: strict decoding (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), encoding, the Unicode White_Space set and lossy repair.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hawkeye::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at s[i]. Returns its length in bytes (1..4) and stores it in cp, or returns 0
// when the bytes at i do not start a valid sequence; then `bad` holds the length of the maximal
// invalid subpart (Unicode's "substitution of maximal subparts", what Rust's from_utf8_lossy uses).
inline std::size_t decode(std::string_view s, std::size_t i, char32_t& cp, std::size_t& bad) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (k <= need) {
    bad = k;
    return 0;
  }
  return need + 1;
}

// Length of the longest valid UTF-8 prefix of s starting at i.
inline std::size_t valid_run(std::string_view s, std::size_t i) {
  const std::size_t start = i;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    std::size_t bad;
    const std::size_t n = decode(s, i, cp, bad);
    if (n == 0) break;
    i += n;
  }
  return i - start;
}

inline bool is_valid(std::string_view s) { return valid_run(s, 0) == s.size(); }

inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Replaces every maximal invalid subpart by U+FFFD (the behaviour of Rust's String::from_utf8_lossy,
// which Hugging Face tokenizers use when decoding).
inline std::string repair(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t run = valid_run(s, i);
    out.append(s.substr(i, run));
    i += run;
    if (i < s.size()) {
      char32_t cp;
      std::size_t bad = 1;
      decode(s, i, cp, bad);
      append(out, kReplacement);
      i += bad;
    }
  }
  return out;
}

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s accept): TAB..CR, SPACE,
// NEL, NBSP, OGHAM SPACE MARK, EN QUAD..HAIR SPACE, LINE/PARAGRAPH SEPARATOR, NNBSP, MMSP,
// IDEOGRAPHIC SPACE. Not U+180E (no longer a space since Unicode 6.3) and not U+FEFF.
inline bool is_white_space(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace hawkeye::utf8
