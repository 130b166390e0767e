// Reading what the policy wrote, and the text-side rewards of Q-Hawkeye (docs/method.md §1–2).
// Small pure functions: no state, no allocation beyond their result, linear in the completion length.
//
// One reader, read_score, with three patterns (AnswerPattern) and an explicit choice of what a number
// outside the score range becomes (OutOfRange): scoring images reads strictly and fails, the rewards and
// UADO read with the reference code's patterns and clamp. Its status (ScoreStatus) is the one status of a
// score everywhere — scoring, evaluation, training — and becomes a string only where a record is written.
#pragma once
#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>

namespace hawkeye {

enum class ScoreStatus {
  ok,
  no_answer_tag,        // no <answer> at all
  unterminated_answer,  // <answer> without a </answer> after it
  not_a_number,         // the tags hold something the pattern does not read as a number ("high", "3.7.5", "-2")
  too_large,            // a number too large for a double (hundreds of digits; strict pattern)
  out_of_range,         // a number outside the score range, read with OutOfRange::fail
  no_answer_parsed,     // scoring with K samples: none of the K answers gave a score
  load_error,           // scoring files: the image could not be read or decoded
};

// "ok", "no_answer_tag", … (the names written in records and predictions files).
std::string_view score_status_name(ScoreStatus status);
// The status of a name written by score_status_name; nullopt for anything else.
std::optional<ScoreStatus> score_status_from_name(std::string_view name);

// Which text counts as the answer.
enum class AnswerPattern {
  // hawkeye's: the content of the first <answer>…</answer> (tags in any letter case; the first </answer>
  // after the first <answer>), with whitespace around it, is a plain decimal — ASCII digits with at most one
  // dot ("3.75", "4", "4.", ".75"). Anything else ("-1", "3.5/5", "3.7.5", text) is not_a_number.
  strict,
  // The reference's accuracy reward (grpo_am.py `_extract_score`): the first match anywhere of
  // <answer>\s*([\d.]+)\s*</answer> (case-insensitive, Python's Unicode \d and \s), converted as Python's
  // float() converts it: "3.2" after an earlier "<answer>foo</answer>" counts, full-width "３.５" is 3.5, "."
  // and "3.7.5" match but do not convert (not_a_number), a 400-digit number is +inf.
  reference,
  // The reference's UADO (grpo_trainer.py `_extract_score_from_text`): the first match anywhere of
  // <answer>\s*([-+]?\d+(\.\d+)?)\s*</answer>, same flags and conversion: "-1" and "+3" count, "4." and ".75"
  // do not match.
  reference_uado,
};

// What a number outside [lo, hi] becomes: a failure (out_of_range), or the nearest end of the range.
enum class OutOfRange { fail, clamp };

struct ScoreRange {
  double lo = 1.0;
  double hi = 5.0;
};

struct ScoreReading {
  ScoreStatus status = ScoreStatus::no_answer_tag;
  double value = std::numeric_limits<double>::quiet_NaN();    // ok: the score, within the range
  double written = std::numeric_limits<double>::quiet_NaN();  // the number as written (ok and out_of_range)
  bool ok() const { return status == ScoreStatus::ok; }
};

// Reads the score of a completion. range.lo <= range.hi is required (a reversed range is taken in order).
ScoreReading read_score(std::string_view completion, ScoreRange range, OutOfRange out_of_range,
                        AnswerPattern pattern = AnswerPattern::strict);

// "3.75", "4", "4.", ".75": ASCII digits with at most one dot and at least one digit.
bool is_plain_decimal(std::string_view text);

// Strict format: optional whitespace, "<think>", at least one character with none of the four tags,
// "</think>", optional whitespace, "<answer>", a plain decimal with optional whitespace around it,
// "</answer>", optional whitespace — and nothing else. Tags are case-sensitive here (the format reward
// teaches the exact tags).
bool has_strict_format(std::string_view completion);

// The reference's format (grpo_am.py `format_reward`): the whole completion matches
// ^\s*<think>\s*.+?</think>\s*<answer>\s*[\d\.]+?\s*</answer>\s*$ with re.DOTALL (case-sensitive tags, Python's
// Unicode \d and \s). So "3.7.5", two think/answer blocks in a row and an <answer> inside the think text pass.
bool has_reference_format(std::string_view completion);

// Which parsing rule the rewards (and UADO) follow: the reference code's, or hawkeye's stricter one.
enum class RewardRule { reference, strict };
// "reference" / "strict"; nullopt for anything else.
std::optional<RewardRule> reward_rule_from_name(std::string_view name);
std::string_view reward_rule_name(RewardRule rule);

struct RewardConfig {
  RewardRule rule = RewardRule::reference;  // how the answer and the format are read
  ScoreRange range;              // the model's score range: both scores are clamped to it
  double tau = 0.30;             // accuracy: exp(-|ŝ - s| / tau)
  double format_value = 0.8;     // format reward when the format holds
  int repetition_threshold = 5;  // a word or character occurring more than this often is penalised
  double repetition_scale = 0.25;
  double repetition_floor = -2.0;
};

// The answer as the accuracy reward reads it: AnswerPattern::reference (rule reference) or strict (rule
// strict), clamped to config.range.
ScoreReading reward_reading(std::string_view completion, const RewardConfig& config = {});
// The answer as UADO reads it: AnswerPattern::reference_uado (rule reference) or strict (rule strict),
// clamped to config.range.
ScoreReading uado_reading(std::string_view completion, const RewardConfig& config = {});

// exp(-|ŝ - clamp(s)| / tau) with ŝ = answer.value (already clamped), 0 when the answer was not read or the
// target is not finite. `target` is the ground-truth score.
double accuracy_reward(const ScoreReading& answer, double target, const RewardConfig& config = {});
// format_value when the rule's format holds (has_reference_format / has_strict_format), else 0.
double format_reward(std::string_view completion, const RewardConfig& config = {});
// The repetition rule of the reference code: take the text inside the first "<answer>…</answer>"
// (exact-case tags), or the whole completion when there is none; strip whitespace; delete every
// character that is not a letter, a number, '_' or whitespace; split on single spaces. Penalty
// -scale × (occurrences of each word occurring more than `threshold` times + occurrences of each
// character occurring more than `threshold` times, spaces included), floored at repetition_floor.
double repetition_reward(std::string_view completion, const RewardConfig& config = {});

struct TextRewards {
  ScoreReading answer;  // reward_reading(completion)
  double accuracy = 0.0;
  double format = 0.0;
  double repetition = 0.0;
  double total() const { return accuracy + format + repetition; }
};
TextRewards text_rewards(std::string_view completion, double target, const RewardConfig& config = {});

}  // namespace hawkeye
