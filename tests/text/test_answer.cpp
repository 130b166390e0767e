// Answer parsing and the text rewards (docs/method.md §1–2; expected values follow the reference
// code's grpo_am.py: score_reward, format_reward, repetition_reward).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "hawkeye/core/random.h"
#include "hawkeye/text/answer.h"

using namespace hawkeye;

namespace {
// The strict reading with a range that holds every number written without a sign.
constexpr ScoreRange kAnyScore{0.0, std::numeric_limits<double>::infinity()};
double score_of(std::string_view s) {
  const ScoreReading a = read_score(s, kAnyScore, OutOfRange::fail);
  EXPECT_TRUE(a.ok()) << s << ": " << score_status_name(a.status);
  return a.value;
}
ScoreStatus status_of(std::string_view s) { return read_score(s, kAnyScore, OutOfRange::fail).status; }
RewardConfig strict_rewards() {
  RewardConfig c;
  c.rule = RewardRule::strict;
  return c;
}
}  // namespace

TEST(AnswerParse, PlainDecimals) {
  EXPECT_DOUBLE_EQ(score_of("<answer>3.75</answer>"), 3.75);
  EXPECT_DOUBLE_EQ(score_of("<answer>4</answer>"), 4.0);
  EXPECT_DOUBLE_EQ(score_of("<answer>4.</answer>"), 4.0);
  EXPECT_DOUBLE_EQ(score_of("<answer>.75</answer>"), 0.75);
  EXPECT_DOUBLE_EQ(score_of("<answer>0003.50</answer>"), 3.5);
  EXPECT_DOUBLE_EQ(score_of("<think>blurry</think><answer>2.10</answer>"), 2.1);
}

TEST(AnswerParse, TagsInAnyCaseAndWhitespaceAround) {
  EXPECT_DOUBLE_EQ(score_of("<ANSWER>3.5</ANSWER>"), 3.5);
  EXPECT_DOUBLE_EQ(score_of("<Answer>3.5</aNsWeR>"), 3.5);
  EXPECT_DOUBLE_EQ(score_of("<answer>\n  3.5 \t\n</answer>"), 3.5);
  EXPECT_DOUBLE_EQ(score_of("<answer>\xE3\x80\x80" "3.5\xC2\xA0</answer>"), 3.5);  // ideographic space, NBSP
}

TEST(AnswerParse, TheFirstAnswerBlockCounts) {
  EXPECT_DOUBLE_EQ(score_of("<answer>2</answer><answer>4</answer>"), 2.0);
  // The first block is not a number: a failure, even though a later block is.
  EXPECT_EQ(status_of("<answer>good</answer><answer>4</answer>"), ScoreStatus::not_a_number);
  // A nested opening tag is text inside the first block.
  EXPECT_EQ(status_of("<answer><answer>3</answer>"), ScoreStatus::not_a_number);
}

TEST(AnswerParse, FailuresAreNamedNeverGuessed) {
  EXPECT_EQ(status_of(""), ScoreStatus::no_answer_tag);
  EXPECT_EQ(status_of("The score is 3.5"), ScoreStatus::no_answer_tag);
  EXPECT_EQ(status_of("<answer 3.5</answer>"), ScoreStatus::no_answer_tag);
  EXPECT_EQ(status_of("</answer>3<answer>"), ScoreStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer>3.5"), ScoreStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer>3.5</answer"), ScoreStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer></answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>  </answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3.7.5</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>-1</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>+3</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3.5/5</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>score: 3.5</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3 .5</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>.</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>1e3</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>inf</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>nan</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3,5</answer>"), ScoreStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>\xD9\xA3</answer>"), ScoreStatus::not_a_number);  // Arabic-Indic three
  EXPECT_EQ(status_of("<answer>\xEF\xBC\x93</answer>"), ScoreStatus::not_a_number);  // full-width three
}

TEST(AnswerParse, HugeAndTinyNumbers) {
  EXPECT_DOUBLE_EQ(score_of("<answer>99999999999999999999</answer>"), 1e20);
  EXPECT_EQ(status_of("<answer>" + std::string(400, '9') + "</answer>"), ScoreStatus::too_large);
  EXPECT_DOUBLE_EQ(score_of("<answer>0." + std::string(400, '0') + "1</answer>"), 0.0);
}

TEST(AnswerParse, OutOfRangeFailsOrClampsAsAsked) {
  const ScoreReading failed = read_score("<answer>6.5</answer>", {1, 5}, OutOfRange::fail);
  EXPECT_EQ(failed.status, ScoreStatus::out_of_range);
  EXPECT_TRUE(std::isnan(failed.value));
  EXPECT_DOUBLE_EQ(failed.written, 6.5);
  const ScoreReading clamped = read_score("<answer>6.5</answer>", {1, 5}, OutOfRange::clamp);
  EXPECT_TRUE(clamped.ok());
  EXPECT_DOUBLE_EQ(clamped.value, 5.0);
  EXPECT_DOUBLE_EQ(clamped.written, 6.5);
  EXPECT_DOUBLE_EQ(read_score("<answer>0.5</answer>", {1, 5}, OutOfRange::clamp).value, 1.0);
  EXPECT_DOUBLE_EQ(read_score("<answer>5</answer>", {1, 5}, OutOfRange::fail).value, 5.0);  // the ends are in range
  // A failure to read stays a failure whatever the range policy.
  EXPECT_EQ(read_score("<answer>x</answer>", {1, 5}, OutOfRange::clamp).status, ScoreStatus::not_a_number);
  EXPECT_EQ(read_score("<answer>" + std::string(400, '9') + "</answer>", {1, 5}, OutOfRange::clamp).status, ScoreStatus::too_large);
}

TEST(AnswerParse, StatusNamesRoundTrip) {
  for (ScoreStatus s : {ScoreStatus::ok, ScoreStatus::no_answer_tag, ScoreStatus::unterminated_answer, ScoreStatus::not_a_number,
                        ScoreStatus::too_large, ScoreStatus::out_of_range, ScoreStatus::no_answer_parsed, ScoreStatus::load_error}) {
    EXPECT_EQ(score_status_from_name(score_status_name(s)), s);
  }
  EXPECT_EQ(score_status_from_name("OK"), std::nullopt);
  EXPECT_EQ(reward_rule_from_name("strict"), RewardRule::strict);
  EXPECT_EQ(reward_rule_from_name("reference"), RewardRule::reference);
  EXPECT_EQ(reward_rule_from_name("Reference"), std::nullopt);
}

TEST(AnswerParse, MegabytesOfGarbageAreLinear) {
  std::string garbage;
  Rng rng(3);
  for (int i = 0; i < 4'000'000; ++i) garbage.push_back("<a/nswer>\xFF 3."[rng.below(13)]);
  const auto t0 = std::chrono::steady_clock::now();
  const ScoreReading a = read_score(garbage, kAnyScore, OutOfRange::fail);
  const ScoreReading b = read_score(garbage, kAnyScore, OutOfRange::fail, AnswerPattern::reference);
  const ScoreReading c = read_score(garbage, kAnyScore, OutOfRange::fail, AnswerPattern::reference_uado);
  (void)has_strict_format(garbage);
  (void)has_reference_format(garbage);
  (void)repetition_reward(garbage);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(a.status, ScoreStatus::ok);
  EXPECT_NE(b.status, ScoreStatus::ok);
  EXPECT_NE(c.status, ScoreStatus::ok);
  EXPECT_LT(s, 10.0);
  // Many "<" with a near-miss tag after each.
  std::string near;
  for (int i = 0; i < 500'000; ++i) near += "<answe";
  EXPECT_EQ(status_of(near), ScoreStatus::no_answer_tag);
  EXPECT_EQ(read_score(near, kAnyScore, OutOfRange::fail, AnswerPattern::reference).status, ScoreStatus::no_answer_tag);
  EXPECT_FALSE(has_strict_format(near));
  EXPECT_FALSE(has_reference_format(near));
  // Many opening tags, each followed by digits and no closing tag.
  std::string opens;
  for (int i = 0; i < 200'000; ++i) opens += "<answer> 12.5 ";
  EXPECT_EQ(read_score(opens, kAnyScore, OutOfRange::fail, AnswerPattern::reference_uado).status, ScoreStatus::unterminated_answer);
}

TEST(AnswerFormat, StrictFormatHolds) {
  EXPECT_TRUE(has_strict_format("<think>sharp, little noise</think><answer>4.25</answer>"));
  EXPECT_TRUE(has_strict_format("  \n<think>\nok\n</think>\n<answer>\n3.75\n</answer>\n "));
  EXPECT_TRUE(has_strict_format("<think> </think><answer>4</answer>"));  // one character is enough
}

TEST(AnswerFormat, StrictFormatFails) {
  EXPECT_FALSE(has_strict_format(""));
  EXPECT_FALSE(has_strict_format("<answer>3</answer>"));
  EXPECT_FALSE(has_strict_format("<think></think><answer>3</answer>"));
  EXPECT_FALSE(has_strict_format("x<think>a</think><answer>3</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>3</answer>x"));
  EXPECT_FALSE(has_strict_format("<think>a</think>so<answer>3</answer>"));
  EXPECT_FALSE(has_strict_format("<THINK>a</THINK><ANSWER>3</ANSWER>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>3.7.5</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>high</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>3</answer><answer>4</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>1</answer><think>b</think><answer>2</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a <answer>2</answer></think><answer>3</answer>"));
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>3"));
  EXPECT_FALSE(has_strict_format("<think>a<answer>3</answer>"));
}

TEST(Rewards, AccuracyIsExponentialInTheClampedError) {
  const ScoreReading a = reward_reading("<answer>3.40</answer>");
  EXPECT_DOUBLE_EQ(accuracy_reward(a, 3.40), 1.0);
  EXPECT_NEAR(accuracy_reward(a, 3.70), std::exp(-1.0), 1e-12);  // |0.3| / 0.3
  EXPECT_NEAR(accuracy_reward(a, 2.80), std::exp(-2.0), 1e-12);
  // Both sides are clamped to [1, 5] first.
  EXPECT_DOUBLE_EQ(accuracy_reward(reward_reading("<answer>7</answer>"), 5.0), 1.0);
  EXPECT_DOUBLE_EQ(accuracy_reward(reward_reading("<answer>0.2</answer>"), -3.0), 1.0);
  EXPECT_NEAR(accuracy_reward(reward_reading("<answer>99999</answer>"), 4.7), std::exp(-1.0), 1e-12);
  RewardConfig c;
  c.tau = 0.6;
  EXPECT_NEAR(accuracy_reward(a, 4.0, c), std::exp(-1.0), 1e-12);
}

TEST(Rewards, AccuracyIsZeroOnAParseFailure) {
  EXPECT_EQ(accuracy_reward(reward_reading("<answer>three</answer>"), 3.0), 0.0);
  EXPECT_EQ(accuracy_reward(reward_reading("3.0"), 3.0), 0.0);
  EXPECT_EQ(accuracy_reward(reward_reading("<answer>3</answer>"), std::nan("")), 0.0);
}

TEST(Rewards, FormatRewardIsPointEightOrZero) {
  EXPECT_DOUBLE_EQ(format_reward("<think>a</think><answer>3</answer>"), 0.8);
  EXPECT_DOUBLE_EQ(format_reward("<answer>3</answer>"), 0.0);
}

TEST(Rewards, RepetitionCountsWordsAndCharactersOverFive) {
  // Reference: answer "3.75" -> cleaned "375": no repeats.
  EXPECT_DOUBLE_EQ(repetition_reward("<think>x</think><answer>3.75</answer>"), 0.0);
  RewardConfig no_floor;
  no_floor.repetition_floor = -100;
  // No answer tag: the whole completion. "a a a a a a" = 6 words "a" (6) + char 'a' 6 + char ' ' 5 (not > 5).
  EXPECT_DOUBLE_EQ(repetition_reward("a a a a a a", no_floor), -0.25 * (6 + 6));
  EXPECT_DOUBLE_EQ(repetition_reward("a a a a a a"), -2.0);
  // Exactly five of each: no penalty.
  EXPECT_DOUBLE_EQ(repetition_reward("a b c d e"), 0.0);
  EXPECT_DOUBLE_EQ(repetition_reward("aaaaa"), 0.0);
  EXPECT_DOUBLE_EQ(repetition_reward("aaaaaa"), -0.25 * 6);
  // Punctuation is removed before counting: "!!!!!!" -> "" -> one empty word, no characters.
  EXPECT_DOUBLE_EQ(repetition_reward("!!!!!!"), 0.0);
  // Spaces are characters too: 7 words of distinct letters have 6 spaces.
  EXPECT_DOUBLE_EQ(repetition_reward("a b c d e f g"), -0.25 * 6);
  // Double spaces give empty words (Python's split(" ")): "a  b  c  d  e  f  g" has 6 empty words and 12 spaces.
  EXPECT_DOUBLE_EQ(repetition_reward("a  b  c  d  e  f  g", no_floor), -0.25 * (6 + 12));
  // Floored at -2.
  EXPECT_DOUBLE_EQ(repetition_reward(std::string(100, 'x')), -2.0);
  // Inside the first exact-case answer block only.
  EXPECT_DOUBLE_EQ(repetition_reward("xxxxxxxxxx <answer>4.12</answer>"), 0.0);
  EXPECT_DOUBLE_EQ(repetition_reward("<ANSWER>4</ANSWER> zzzzzz"), -0.25 * 6);
  // Whitespace around the answer is stripped first.
  EXPECT_DOUBLE_EQ(repetition_reward("<answer>\n\n\n\n\n\n\n3\n</answer>"), 0.0);
  // Letters of any script count; combining marks are removed like punctuation (Python's \w has no marks).
  EXPECT_DOUBLE_EQ(repetition_reward("\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD\xE5\xA5\xBD"),
                   -0.25 * (6));  // 好 x6: one word (no spaces), 6 characters
  EXPECT_DOUBLE_EQ(repetition_reward("e\xCC\x81" "e\xCC\x81" "e\xCC\x81" "e\xCC\x81" "e\xCC\x81"), 0.0);
}

TEST(Rewards, TotalIsTheSumWithinItsRange) {
  const TextRewards r = text_rewards("<think>fine detail</think><answer>4.00</answer>", 4.0);
  EXPECT_TRUE(r.answer.ok());
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.format, 0.8);
  EXPECT_DOUBLE_EQ(r.repetition, 0.0);
  EXPECT_DOUBLE_EQ(r.total(), 1.8);
  const TextRewards worst = text_rewards(std::string(1000, 'z'), 3.0);
  EXPECT_DOUBLE_EQ(worst.total(), -2.0);
  Rng rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int n = static_cast<int>(rng.below(60));
    for (int k = 0; k < n; ++k) {
      static const char* pieces[] = {"<think>", "</think>", "<answer>", "</answer>", "3", ".", "7", " ", "\n",
                                     "a", "blur", "<ANSWER>", "-", "\xE5\xA5\xBD"};
      s += pieces[rng.below(14)];
    }
    const TextRewards t = text_rewards(s, 1.0 + 4.0 * rng.uniform());
    EXPECT_GE(t.total(), -2.0) << s;
    EXPECT_LE(t.total(), 1.8) << s;
    EXPECT_EQ(t.answer.ok() || t.accuracy == 0.0, true) << s;
    const TextRewards strict = text_rewards(s, 3.0, strict_rewards());
    EXPECT_GE(strict.total(), -2.0) << s;
    EXPECT_LE(strict.total(), 1.8) << s;
    if (strict.format > 0) EXPECT_TRUE(strict.answer.ok()) << s;  // the strict format implies a readable score
  }
}

namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();  // no score
constexpr double kInf = std::numeric_limits<double>::infinity();

// One completion read by both rules. The reference columns are Python 3's own answers (re + float, with the
// patterns and flags of grpo_am.py `_extract_score` / `format_reward` and grpo_trainer.py
// `_extract_score_from_text`), printed for these strings; the strict columns are hawkeye's rule.
struct RuleCase {
  const char* completion;
  double reference_score;  // the accuracy reward's number, before clamping
  bool reference_format;
  double uado_score;       // UADO's number, before clamping
  double strict_score;
  bool strict_format;
};

const std::string kNines = "<think>a</think><answer>" + std::string(400, '9') + "</answer>";

const RuleCase kRuleCases[] = {
    {"<think>a</think><answer>3.75</answer>", 3.75, true, 3.75, 3.75, true},
    {"<think>a</think><answer>3.7.5</answer>", kNone, true, kNone, kNone, false},
    {"<think>a</think><answer>1</answer><think>a</think><answer>2</answer>", 1, true, 1, 1, false},  // two blocks in a row
    {"<think>a <answer>2</answer></think><answer>3</answer>", 2, true, 2, 2, false},  // an answer inside the think text
    {"<answer>foo</answer> <answer>3.2</answer>", 3.2, false, 3.2, kNone, false},
    {"<think>a</think><answer>\xEF\xBC\x93.\xEF\xBC\x95</answer>", 3.5, true, 3.5, kNone, false},  // full-width ３.５
    {"<think>a</think><answer>-1</answer>", kNone, false, -1, kNone, false},
    {"<think>a</think><answer>+3</answer>", kNone, false, 3, kNone, false},
    {"<think>a</think><answer>4.</answer>", 4, true, kNone, 4, true},
    {"<think>a</think><answer>.75</answer>", 0.75, true, kNone, 0.75, true},
    {"<think>a</think><answer>.</answer>", kNone, true, kNone, kNone, false},
    {"<ANSWER>3</ANSWER>", 3, false, 3, 3, false},
    {"<THINK>a</THINK><ANSWER>3</ANSWER>", 3, false, 3, 3, false},
    {"<think>a</think><answer>7</answer>", 7, true, 7, 7, true},
    {"<think></think><answer>3</answer>", 3, false, 3, 3, false},
    {"<think>\n</think>\n<answer>\n2.5\n</answer>\n", 2.5, true, 2.5, 2.5, true},
    {"x<think>a</think><answer>3</answer>", 3, false, 3, 3, false},
    {"<think>a</think><answer>3</answer>x", 3, false, 3, 3, false},
    {"<think>a</think>so<answer>3</answer>", 3, false, 3, 3, false},
    {"no tags, the score is 3.5", kNone, false, kNone, kNone, false},
    {"<think>a</think><answer>3.5", kNone, false, kNone, kNone, false},
    {"<think>a</think><answer>\xD9\xA3</answer>", 3, true, 3, kNone, false},  // Arabic-Indic three
    {"<answer>3.5</answer><answer>2</answer>", 3.5, false, 3.5, 3.5, false},
    {"  <think>fine</think>  <answer> 2.25 </answer>  ", 2.25, true, 2.25, 2.25, true},
    {"<think>a</think><answer>3 .5</answer>", kNone, false, kNone, kNone, false},
    {"<an\xC5\xBFwer>3</an\xC5\xBFwer>", 3, false, 3, kNone, false},  // long s: re.IGNORECASE folds it to s
    {"<think>a</think><answer>4.</answer><answer>2</answer>", 4, false, 2, 4, false},
    {"<think>a</think>\xE3\x80\x80<answer>\xC2\xA0" "3\xE2\x80\x83</answer>\xE2\x80\xA9", 3, true, 3, 3, true},  // Unicode spaces
    {"<think>a</think><answer>\xF0\x9D\x9F\x91.5</answer>", 3.5, true, 3.5, kNone, false},  // mathematical bold three
};

double expected_accuracy(double score, double target) {
  return std::isnan(score) ? 0.0 : std::exp(-std::fabs(std::clamp(score, 1.0, 5.0) - target) / 0.30);
}

void expect_reading(const ScoreReading& r, double written, const std::string& what) {
  if (std::isnan(written)) {
    EXPECT_FALSE(r.ok()) << what;
    return;
  }
  ASSERT_TRUE(r.ok()) << what << ": " << score_status_name(r.status);
  EXPECT_DOUBLE_EQ(r.value, std::clamp(written, 1.0, 5.0)) << what;
}

}  // namespace

TEST(RewardRules, BothRulesOnATableOfCompletions) {
  std::vector<RuleCase> cases(std::begin(kRuleCases), std::end(kRuleCases));
  cases.push_back({kNines.c_str(), kInf, true, kInf, kNone, true});  // Python's float() overflows to inf, clamped to 5
  ASSERT_GE(cases.size(), 20u);
  const RewardConfig reference;  // the default rule
  const RewardConfig strict = strict_rewards();
  ASSERT_EQ(reference.rule, RewardRule::reference);
  for (const RuleCase& c : cases) {
    const std::string s = c.completion;
    for (double target : {1.0, 3.0, 4.6}) {
      const TextRewards r = text_rewards(s, target, reference);
      EXPECT_NEAR(r.accuracy, expected_accuracy(c.reference_score, target), 1e-12) << "reference: " << s;
      EXPECT_DOUBLE_EQ(r.format, c.reference_format ? 0.8 : 0.0) << "reference: " << s;
      const TextRewards t = text_rewards(s, target, strict);
      EXPECT_NEAR(t.accuracy, expected_accuracy(c.strict_score, target), 1e-12) << "strict: " << s;
      EXPECT_DOUBLE_EQ(t.format, c.strict_format ? 0.8 : 0.0) << "strict: " << s;
      EXPECT_DOUBLE_EQ(r.repetition, t.repetition) << s;  // the repetition rule is the reference's under both
    }
    expect_reading(uado_reading(s, reference), c.uado_score, "UADO, reference: " + s);
    expect_reading(uado_reading(s, strict), c.strict_score, "UADO, strict: " + s);
    EXPECT_EQ(has_reference_format(s), c.reference_format) << s;
    EXPECT_EQ(has_strict_format(s), c.strict_format) << s;
  }
}

TEST(RewardRules, UadoCountsSignsButNotBareDots) {
  // The four cases where the UADO pattern and the accuracy pattern disagree.
  EXPECT_DOUBLE_EQ(uado_reading("<answer>-1</answer>").written, -1.0);
  EXPECT_DOUBLE_EQ(uado_reading("<answer>-1</answer>").value, 1.0);  // clamped to the range
  EXPECT_DOUBLE_EQ(uado_reading("<answer> +3 </answer>").value, 3.0);
  EXPECT_EQ(uado_reading("<answer>4.</answer>").status, ScoreStatus::not_a_number);
  EXPECT_EQ(uado_reading("<answer>.75</answer>").status, ScoreStatus::not_a_number);
  EXPECT_FALSE(reward_reading("<answer>-1</answer>").ok());
  EXPECT_FALSE(reward_reading("<answer>+3</answer>").ok());
  EXPECT_DOUBLE_EQ(reward_reading("<answer>4.</answer>").value, 4.0);
  EXPECT_DOUBLE_EQ(reward_reading("<answer>.75</answer>").value, 1.0);
  // The range is the model's, not a constant.
  RewardConfig c;
  c.range = {0.0, 100.0};
  EXPECT_DOUBLE_EQ(uado_reading("<answer>-1</answer>", c).value, 0.0);
  EXPECT_DOUBLE_EQ(reward_reading("<answer>72.5</answer>", c).value, 72.5);
  EXPECT_NEAR(accuracy_reward(reward_reading("<answer>72.5</answer>", c), 72.2, c), std::exp(-1.0), 1e-12);
}
