#include "hawkeye/text/answer.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>

#include "text/utf8.h"

namespace hawkeye {

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// First occurrence of a lower-case ASCII needle at or after `from`, ignoring ASCII letter case.
std::size_t find_ci(std::string_view s, std::string_view needle, std::size_t from) {
  for (std::size_t i = from;; ++i) {
    i = s.find(needle[0], i);
    if (i == std::string_view::npos || s.size() - i < needle.size()) return std::string_view::npos;
    std::size_t k = 1;
    while (k < needle.size() && lower(s[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
}

// Python's str.isspace (what \s and strip() use in the reference code): Unicode White_Space plus the
// information separators U+001C..U+001F.
bool is_py_space(char32_t c) { return utf8::is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

// Python's \w for str patterns, by general category: letters, numbers, underscore.
bool is_py_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Next code point at i (invalid bytes read as U+FFFD, one maximal subpart at a time).
char32_t next_char(std::string_view s, std::size_t& i) {
  char32_t cp;
  std::size_t bad = 1;
  const std::size_t n = utf8::decode(s, i, cp, bad);
  if (n == 0) {
    i += bad;
    return utf8::kReplacement;
  }
  i += n;
  return cp;
}

std::string_view trim_py_space(std::string_view s) {
  std::size_t b = 0;
  while (b < s.size()) {
    std::size_t j = b;
    if (!is_py_space(next_char(s, j))) break;
    b = j;
  }
  std::size_t e = s.size();
  while (e > b) {
    // Step back one code point.
    std::size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && e - start < 4) --start;
    std::size_t j = start;
    const char32_t c = next_char(s, j);
    if (j != e || !is_py_space(c)) break;
    e = start;
  }
  return s.substr(b, e - b);
}

std::size_t skip_py_space(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    std::size_t j = i;
    if (!is_py_space(next_char(s, j))) break;
    i = j;
  }
  return i;
}

// Python's \d for str patterns: Unicode decimal digits (general category Nd).
bool is_py_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}

// The value of a decimal digit: Unicode encodes every Nd digit in runs of ten, zero first.
int digit_value(char32_t c) {
  if (c < 0x80) return static_cast<int>(c - '0');
  char32_t zero = c;
  while (zero > 0 && is_py_digit(zero - 1)) --zero;
  return static_cast<int>((c - zero) % 10);
}

// The start of the code point that ends just before `end` (a lone continuation byte stands alone).
std::size_t previous_char_start(std::string_view s, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
  std::size_t j = start;
  next_char(s, j);
  return j == end ? start : end - 1;
}

// Whether an ASCII tag (lower case) starts at i under Python's re.IGNORECASE: letters in either case, and
// 's' also as U+017F LATIN SMALL LETTER LONG S (whose case folding is 's'). Sets `end` past the match.
bool tag_at_ci(std::string_view s, std::size_t i, std::string_view tag, std::size_t& end) {
  for (char t : tag) {
    if (i < s.size() && lower(s[i]) == t) {
      ++i;
    } else if (t == 's' && s.substr(i, 2) == "\xC5\xBF") {
      i += 2;
    } else {
      return false;
    }
  }
  end = i;
  return true;
}

// Python's float() of a string of decimal digits (any script), an optional sign and dots, as the reference
// patterns capture it: nullopt where float() raises ValueError; +-inf where it overflows.
std::optional<double> py_float(std::string_view text) {
  std::string ascii;
  std::size_t i = 0;
  while (i < text.size()) {
    const char32_t c = next_char(text, i);
    if (c == '.' || c == '+' || c == '-') ascii.push_back(static_cast<char>(c));
    else ascii.push_back(static_cast<char>('0' + digit_value(c)));
  }
  std::string_view body = ascii;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (!is_plain_decimal(body)) return std::nullopt;
  double value = 0.0;
  const auto res = std::from_chars(body.data(), body.data() + body.size(), value, std::chars_format::fixed);
  if (res.ec == std::errc::result_out_of_range) {
    const std::string_view integer = body.substr(0, body.find('.'));
    value = integer.find_first_not_of('0') == std::string_view::npos ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (res.ec != std::errc() || res.ptr != body.data() + body.size()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

// re.search of <answer>\s*(NUMBER)\s*</answer> (IGNORECASE, DOTALL): the captured number of the first match,
// as a byte range. NUMBER is [\d.]+ (reference) or [-+]?\d+(\.\d+)? (reference_uado). Both captures are
// followed by a character they cannot hold, so the greedy reading below is the regex's only one.
ScoreStatus search_answer(std::string_view s, AnswerPattern pattern, std::size_t& number_begin, std::size_t& number_end) {
  std::size_t first_open = std::string_view::npos;
  for (std::size_t at = s.find('<'); at != std::string_view::npos; at = s.find('<', at + 1)) {
    std::size_t i = 0;
    if (!tag_at_ci(s, at, kAnswerOpen, i)) continue;
    if (first_open == std::string_view::npos) first_open = i;
    i = skip_py_space(s, i);
    const std::size_t begin = i;
    auto digits = [&](bool dots) {
      std::size_t n = 0;
      while (i < s.size()) {
        std::size_t j = i;
        const char32_t c = next_char(s, j);
        if (!is_py_digit(c) && !(dots && c == '.')) break;
        i = j;
        ++n;
      }
      return n;
    };
    bool matched;
    if (pattern == AnswerPattern::reference) {
      matched = digits(true) > 0;
    } else {
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      matched = digits(false) > 0;
      if (matched && i < s.size() && s[i] == '.') {
        const std::size_t dot = i++;
        if (digits(false) == 0) i = dot;
      }
    }
    const std::size_t end = i;
    i = skip_py_space(s, i);
    std::size_t close = 0;
    if (matched && tag_at_ci(s, i, kAnswerClose, close)) {
      number_begin = begin;
      number_end = end;
      return ScoreStatus::ok;
    }
  }
  // No match: say why in the terms of the strict reading (is there a closing tag after the first opening one?).
  if (first_open == std::string_view::npos) return ScoreStatus::no_answer_tag;
  return find_ci(s, kAnswerClose, first_open) == std::string_view::npos ? ScoreStatus::unterminated_answer
                                                                        : ScoreStatus::not_a_number;
}

ScoreReading finish(ScoreReading r, double value, ScoreRange range, OutOfRange out_of_range) {
  const double lo = std::min(range.lo, range.hi), hi = std::max(range.lo, range.hi);
  r.written = value;
  if (value >= lo && value <= hi) {
    r.status = ScoreStatus::ok;
    r.value = value;
  } else if (out_of_range == OutOfRange::clamp) {
    r.status = ScoreStatus::ok;
    r.value = std::clamp(value, lo, hi);
  } else {
    r.status = ScoreStatus::out_of_range;
  }
  return r;
}

}  // namespace

std::string_view score_status_name(ScoreStatus status) {
  switch (status) {
    case ScoreStatus::ok: return "ok";
    case ScoreStatus::no_answer_tag: return "no_answer_tag";
    case ScoreStatus::unterminated_answer: return "unterminated_answer";
    case ScoreStatus::not_a_number: return "not_a_number";
    case ScoreStatus::too_large: return "too_large";
    case ScoreStatus::out_of_range: return "out_of_range";
    case ScoreStatus::no_answer_parsed: return "no_answer_parsed";
    case ScoreStatus::load_error: return "load_error";
  }
  return "unknown";
}

std::optional<ScoreStatus> score_status_from_name(std::string_view name) {
  for (ScoreStatus s : {ScoreStatus::ok, ScoreStatus::no_answer_tag, ScoreStatus::unterminated_answer, ScoreStatus::not_a_number,
                        ScoreStatus::too_large, ScoreStatus::out_of_range, ScoreStatus::no_answer_parsed, ScoreStatus::load_error}) {
    if (score_status_name(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<RewardRule> reward_rule_from_name(std::string_view name) {
  if (name == "reference") return RewardRule::reference;
  if (name == "strict") return RewardRule::strict;
  return std::nullopt;
}

std::string_view reward_rule_name(RewardRule rule) { return rule == RewardRule::strict ? "strict" : "reference"; }

bool is_plain_decimal(std::string_view t) {
  std::size_t digits = 0, dots = 0;
  for (char c : t) {
    if (c >= '0' && c <= '9') ++digits;
    else if (c == '.') ++dots;
    else return false;
  }
  return digits > 0 && dots <= 1;
}

ScoreReading read_score(std::string_view completion, ScoreRange range, OutOfRange out_of_range, AnswerPattern pattern) {
  ScoreReading r;
  if (pattern != AnswerPattern::strict) {
    std::size_t begin = 0, end = 0;
    r.status = search_answer(completion, pattern, begin, end);
    if (!r.ok()) return r;
    const auto value = py_float(completion.substr(begin, end - begin));
    if (!value) {
      r.status = ScoreStatus::not_a_number;
      return r;
    }
    return finish(r, *value, range, out_of_range);
  }
  const std::size_t open = find_ci(completion, kAnswerOpen, 0);
  if (open == std::string_view::npos) {
    r.status = ScoreStatus::no_answer_tag;
    return r;
  }
  const std::size_t begin = open + kAnswerOpen.size();
  const std::size_t close = find_ci(completion, kAnswerClose, begin);
  if (close == std::string_view::npos) {
    r.status = ScoreStatus::unterminated_answer;
    return r;
  }
  const std::string_view number = trim_py_space(completion.substr(begin, close - begin));
  if (!is_plain_decimal(number)) {
    r.status = ScoreStatus::not_a_number;
    return r;
  }
  double value = 0.0;
  const auto res = std::from_chars(number.data(), number.data() + number.size(), value, std::chars_format::fixed);
  if (res.ec == std::errc::result_out_of_range) {
    // Underflow (0.000…01 with hundreds of zeros) reads as 0; overflow is not a score.
    const std::string_view integer = number.substr(0, number.find('.'));
    if (integer.find_first_not_of('0') != std::string_view::npos) {
      r.status = ScoreStatus::too_large;
      return r;
    }
    value = 0.0;
  } else if (res.ec != std::errc() || res.ptr != number.data() + number.size() || !std::isfinite(value)) {
    r.status = ScoreStatus::not_a_number;
    return r;
  }
  return finish(r, value, range, out_of_range);
}

bool has_strict_format(std::string_view c) {
  std::size_t i = skip_py_space(c, 0);
  if (c.compare(i, kThinkOpen.size(), kThinkOpen) != 0) return false;
  i += kThinkOpen.size();
  const std::size_t think_end = c.find(kThinkClose, i);
  if (think_end == std::string_view::npos || think_end == i) return false;
  const std::string_view think = c.substr(i, think_end - i);
  for (std::string_view tag : {kThinkOpen, kThinkClose, kAnswerOpen, kAnswerClose}) {
    if (find_ci(think, tag, 0) != std::string_view::npos) return false;
  }
  i = skip_py_space(c, think_end + kThinkClose.size());
  if (c.compare(i, kAnswerOpen.size(), kAnswerOpen) != 0) return false;
  i += kAnswerOpen.size();
  const std::size_t answer_end = c.find(kAnswerClose, i);
  if (answer_end == std::string_view::npos) return false;
  if (!is_plain_decimal(trim_py_space(c.substr(i, answer_end - i)))) return false;
  return skip_py_space(c, answer_end + kAnswerClose.size()) == c.size();
}

bool has_reference_format(std::string_view c) {
  // The pattern read from its end: past the trailing whitespace "</answer>", whitespace, a non-empty run of
  // digits and dots, whitespace, "<answer>", whitespace, "</think>"; what is left is "<think>" and at least one
  // character (the lazy .+? may hold anything, tags included) after the leading whitespace.
  std::string_view s = trim_py_space(c);
  auto drop_suffix = [&s](std::string_view tag) {
    if (s.size() < tag.size() || s.substr(s.size() - tag.size()) != tag) return false;
    s.remove_suffix(tag.size());
    return true;
  };
  if (s.substr(0, kThinkOpen.size()) != kThinkOpen || !drop_suffix(kAnswerClose)) return false;
  s = trim_py_space(s);
  std::size_t b = s.size();
  while (b > 0) {
    const std::size_t start = previous_char_start(s, b);
    std::size_t j = start;
    const char32_t ch = next_char(s, j);
    if (j != b || !(ch == '.' || is_py_digit(ch))) break;
    b = start;
  }
  if (b == s.size()) return false;
  s = trim_py_space(s.substr(0, b));
  if (!drop_suffix(kAnswerOpen)) return false;
  s = trim_py_space(s);
  return drop_suffix(kThinkClose) && s.size() > kThinkOpen.size();
}

ScoreReading reward_reading(std::string_view completion, const RewardConfig& cfg) {
  return read_score(completion, cfg.range, OutOfRange::clamp,
                    cfg.rule == RewardRule::reference ? AnswerPattern::reference : AnswerPattern::strict);
}

ScoreReading uado_reading(std::string_view completion, const RewardConfig& cfg) {
  return read_score(completion, cfg.range, OutOfRange::clamp,
                    cfg.rule == RewardRule::reference ? AnswerPattern::reference_uado : AnswerPattern::strict);
}

double accuracy_reward(const ScoreReading& answer, double target, const RewardConfig& cfg) {
  if (!answer.ok() || !std::isfinite(target)) return 0.0;
  const double lo = std::min(cfg.range.lo, cfg.range.hi), hi = std::max(cfg.range.lo, cfg.range.hi);
  return std::exp(-std::fabs(answer.value - std::clamp(target, lo, hi)) / cfg.tau);
}

double format_reward(std::string_view completion, const RewardConfig& cfg) {
  const bool holds = cfg.rule == RewardRule::reference ? has_reference_format(completion) : has_strict_format(completion);
  return holds ? cfg.format_value : 0.0;
}

double repetition_reward(std::string_view completion, const RewardConfig& cfg) {
  std::string_view text = completion;
  if (const std::size_t open = completion.find(kAnswerOpen); open != std::string_view::npos) {
    const std::size_t begin = open + kAnswerOpen.size();
    if (const std::size_t close = completion.find(kAnswerClose, begin); close != std::string_view::npos) {
      text = completion.substr(begin, close - begin);
    }
  }
  text = trim_py_space(text);
  // Clean (keep word characters and whitespace), then count words (split on ' ') and characters.
  std::string cleaned;
  cleaned.reserve(text.size());
  std::unordered_map<char32_t, long> chars;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    const char32_t c = next_char(text, i);
    if (!is_py_word(c) && !is_py_space(c)) continue;
    ++chars[c];
    cleaned.append(text.substr(start, i - start));
  }
  std::unordered_map<std::string_view, long> words;
  std::size_t w = 0;
  for (;;) {
    const std::size_t sp = cleaned.find(' ', w);
    ++words[std::string_view(cleaned).substr(w, sp == std::string::npos ? std::string::npos : sp - w)];
    if (sp == std::string::npos) break;
    w = sp + 1;
  }
  long repeated = 0;
  for (const auto& [word, n] : words) {
    if (n > cfg.repetition_threshold) repeated += n;
  }
  for (const auto& [c, n] : chars) {
    if (n > cfg.repetition_threshold) repeated += n;
  }
  return std::max(cfg.repetition_floor, -static_cast<double>(repeated) * cfg.repetition_scale);
}

TextRewards text_rewards(std::string_view completion, double target, const RewardConfig& cfg) {
  TextRewards r;
  r.answer = reward_reading(completion, cfg);
  r.accuracy = accuracy_reward(r.answer, target, cfg);
  r.format = format_reward(completion, cfg);
  r.repetition = repetition_reward(completion, cfg);
  return r;
}

}  // namespace hawkeye
