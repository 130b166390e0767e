// Reading what the policy wrote, and the text-side rewards of Q-Hawkeye (qhawkeye-method.md §1–2).
// Small pure functions: no state, no allocation beyond their result, linear in the completion length.
//
// Score: the content of the first <answer>…</answer> (tags in any letter case; the first </answer>
// after the first <answer>), with whitespace around it, must be a plain decimal: digits with at most one
// dot ("3.75", "4", "4.", ".75"). Anything else — no tag, an unterminated tag, "3.7.5", "-1", "3.5/5",
// text — is a parse failure, never a guess.
#pragma once
#include <cstddef>
#include <string_view>

namespace hawkeye {

enum class AnswerStatus {
  ok,
  no_answer_tag,        // no <answer> at all
  unterminated_answer,  // <answer> without a </answer> after it
  not_a_number,         // the tags hold something other than one plain decimal (empty, text, "3.7.5", "-2")
  out_of_range,         // a plain decimal too large for a double (hundreds of digits)
};

std::string_view answer_status_name(AnswerStatus status);

struct ParsedAnswer {
  AnswerStatus status = AnswerStatus::no_answer_tag;
  double score = 0.0;               // valid when status == ok
  std::size_t content_begin = 0;    // byte range of the text between the tags (when both were found)
  std::size_t content_end = 0;
  bool ok() const { return status == AnswerStatus::ok; }
};

ParsedAnswer parse_answer(std::string_view completion);

// "3.75", "4", "4.", ".75": ASCII digits with at most one dot and at least one digit.
bool is_plain_decimal(std::string_view text);

// Strict format: optional whitespace, "<think>", at least one character with none of the four tags,
// "</think>", optional whitespace, "<answer>", a plain decimal with optional whitespace around it,
// "</answer>", optional whitespace — and nothing else. Tags are case-sensitive here (the format reward
// teaches the exact tags).
bool has_strict_format(std::string_view completion);

struct RewardConfig {
  double tau = 0.30;             // accuracy: exp(-|ŝ - s| / tau)
  double score_min = 1.0;        // both scores are clamped to [score_min, score_max]
  double score_max = 5.0;
  double format_value = 0.8;     // format reward when the strict format holds
  int repetition_threshold = 5;  // a word or character occurring more than this often is penalised
  double repetition_scale = 0.25;
  double repetition_floor = -2.0;
};

// exp(-|clamp(ŝ) - clamp(s)| / tau), 0 on a parse failure. `target` is the ground-truth score.
double accuracy_reward(const ParsedAnswer& answer, double target, const RewardConfig& config = {});
// format_value when has_strict_format, else 0.
double format_reward(std::string_view completion, const RewardConfig& config = {});
// The repetition rule of the reference code: take the text inside the first "<answer>…</answer>"
// (exact-case tags), or the whole completion when there is none; strip whitespace; delete every
// character that is not a letter, a number, '_' or whitespace; split on single spaces. Penalty
// -scale × (occurrences of each word occurring more than `threshold` times + occurrences of each
// character occurring more than `threshold` times, spaces included), floored at repetition_floor.
double repetition_reward(std::string_view completion, const RewardConfig& config = {});

struct TextRewards {
  ParsedAnswer answer;
  double accuracy = 0.0;
  double format = 0.0;
  double repetition = 0.0;
  double total() const { return accuracy + format + repetition; }
};
TextRewards text_rewards(std::string_view completion, double target, const RewardConfig& config = {});

}  // namespace hawkeye
