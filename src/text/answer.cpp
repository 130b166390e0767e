#include "hawkeye/text/answer.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
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

}  // namespace

std::string_view answer_status_name(AnswerStatus status) {
  switch (status) {
    case AnswerStatus::ok: return "ok";
    case AnswerStatus::no_answer_tag: return "no_answer_tag";
    case AnswerStatus::unterminated_answer: return "unterminated_answer";
    case AnswerStatus::not_a_number: return "not_a_number";
    case AnswerStatus::out_of_range: return "out_of_range";
  }
  return "unknown";
}

bool is_plain_decimal(std::string_view t) {
  std::size_t digits = 0, dots = 0;
  for (char c : t) {
    if (c >= '0' && c <= '9') ++digits;
    else if (c == '.') ++dots;
    else return false;
  }
  return digits > 0 && dots <= 1;
}

ParsedAnswer parse_answer(std::string_view completion) {
  ParsedAnswer r;
  const std::size_t open = find_ci(completion, kAnswerOpen, 0);
  if (open == std::string_view::npos) {
    r.status = AnswerStatus::no_answer_tag;
    return r;
  }
  const std::size_t begin = open + kAnswerOpen.size();
  const std::size_t close = find_ci(completion, kAnswerClose, begin);
  if (close == std::string_view::npos) {
    r.status = AnswerStatus::unterminated_answer;
    return r;
  }
  r.content_begin = begin;
  r.content_end = close;
  const std::string_view number = trim_py_space(completion.substr(begin, close - begin));
  if (!is_plain_decimal(number)) {
    r.status = AnswerStatus::not_a_number;
    return r;
  }
  double value = 0.0;
  const auto res = std::from_chars(number.data(), number.data() + number.size(), value, std::chars_format::fixed);
  if (res.ec == std::errc::result_out_of_range) {
    // Underflow (0.000…01 with hundreds of zeros) reads as 0; overflow is not a score.
    const std::size_t dot = number.find('.');
    const std::string_view integer = number.substr(0, dot);
    if (integer.find_first_not_of('0') == std::string_view::npos) {
      r.status = AnswerStatus::ok;
      r.score = 0.0;
      return r;
    }
    r.status = AnswerStatus::out_of_range;
    return r;
  }
  if (res.ec != std::errc() || res.ptr != number.data() + number.size() || !std::isfinite(value)) {
    r.status = AnswerStatus::not_a_number;
    return r;
  }
  r.status = AnswerStatus::ok;
  r.score = value;
  return r;
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

double accuracy_reward(const ParsedAnswer& answer, double target, const RewardConfig& cfg) {
  if (!answer.ok() || !std::isfinite(target)) return 0.0;
  const double pred = std::clamp(answer.score, cfg.score_min, cfg.score_max);
  const double truth = std::clamp(target, cfg.score_min, cfg.score_max);
  return std::exp(-std::fabs(pred - truth) / cfg.tau);
}

double format_reward(std::string_view completion, const RewardConfig& cfg) {
  return has_strict_format(completion) ? cfg.format_value : 0.0;
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
  r.answer = parse_answer(completion);
  r.accuracy = accuracy_reward(r.answer, target, cfg);
  r.format = format_reward(completion, cfg);
  r.repetition = repetition_reward(completion, cfg);
  return r;
}

}  // namespace hawkeye
