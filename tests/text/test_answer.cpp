// Answer parsing and the text rewards (qhawkeye-method.md §1–2; expected values follow the reference
// code's grpo_am.py: score_reward, format_reward, repetition_reward).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "hawkeye/core/random.h"
#include "hawkeye/text/answer.h"

using namespace hawkeye;

namespace {
double score_of(std::string_view s) {
  const ParsedAnswer a = parse_answer(s);
  EXPECT_TRUE(a.ok()) << s << ": " << answer_status_name(a.status);
  return a.score;
}
AnswerStatus status_of(std::string_view s) { return parse_answer(s).status; }
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
  EXPECT_EQ(status_of("<answer>good</answer><answer>4</answer>"), AnswerStatus::not_a_number);
  // A nested opening tag is text inside the first block.
  EXPECT_EQ(status_of("<answer><answer>3</answer>"), AnswerStatus::not_a_number);
}

TEST(AnswerParse, FailuresAreNamedNeverGuessed) {
  EXPECT_EQ(status_of(""), AnswerStatus::no_answer_tag);
  EXPECT_EQ(status_of("The score is 3.5"), AnswerStatus::no_answer_tag);
  EXPECT_EQ(status_of("<answer 3.5</answer>"), AnswerStatus::no_answer_tag);
  EXPECT_EQ(status_of("</answer>3<answer>"), AnswerStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer>3.5"), AnswerStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer>3.5</answer"), AnswerStatus::unterminated_answer);
  EXPECT_EQ(status_of("<answer></answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>  </answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3.7.5</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>-1</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>+3</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3.5/5</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>score: 3.5</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3 .5</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>.</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>1e3</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>inf</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>nan</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>3,5</answer>"), AnswerStatus::not_a_number);
  EXPECT_EQ(status_of("<answer>\xD9\xA3</answer>"), AnswerStatus::not_a_number);  // Arabic-Indic three
  EXPECT_EQ(status_of("<answer>\xEF\xBC\x93</answer>"), AnswerStatus::not_a_number);  // full-width three
}

TEST(AnswerParse, HugeAndTinyNumbers) {
  EXPECT_DOUBLE_EQ(score_of("<answer>99999999999999999999</answer>"), 1e20);
  EXPECT_EQ(status_of("<answer>" + std::string(400, '9') + "</answer>"), AnswerStatus::out_of_range);
  EXPECT_DOUBLE_EQ(score_of("<answer>0." + std::string(400, '0') + "1</answer>"), 0.0);
}

TEST(AnswerParse, ContentRangePointsBetweenTheTags) {
  const std::string s = "xx<answer> 3 </answer>";
  const ParsedAnswer a = parse_answer(s);
  EXPECT_EQ(s.substr(a.content_begin, a.content_end - a.content_begin), " 3 ");
}

TEST(AnswerParse, MegabytesOfGarbageAreLinear) {
  std::string garbage;
  Rng rng(3);
  for (int i = 0; i < 4'000'000; ++i) garbage.push_back("<a/nswer>\xFF 3."[rng.below(13)]);
  const auto t0 = std::chrono::steady_clock::now();
  const ParsedAnswer a = parse_answer(garbage);
  (void)has_strict_format(garbage);
  (void)repetition_reward(garbage);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(a.status, AnswerStatus::ok);
  EXPECT_LT(s, 10.0);
  // Many "<" with a near-miss tag after each.
  std::string near;
  for (int i = 0; i < 500'000; ++i) near += "<answe";
  EXPECT_EQ(status_of(near), AnswerStatus::no_answer_tag);
  EXPECT_FALSE(has_strict_format(near));
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
  const ParsedAnswer a = parse_answer("<answer>3.40</answer>");
  EXPECT_DOUBLE_EQ(accuracy_reward(a, 3.40), 1.0);
  EXPECT_NEAR(accuracy_reward(a, 3.70), std::exp(-1.0), 1e-12);  // |0.3| / 0.3
  EXPECT_NEAR(accuracy_reward(a, 2.80), std::exp(-2.0), 1e-12);
  // Both sides are clamped to [1, 5] first.
  EXPECT_DOUBLE_EQ(accuracy_reward(parse_answer("<answer>7</answer>"), 5.0), 1.0);
  EXPECT_DOUBLE_EQ(accuracy_reward(parse_answer("<answer>0.2</answer>"), -3.0), 1.0);
  EXPECT_NEAR(accuracy_reward(parse_answer("<answer>99999</answer>"), 4.7), std::exp(-1.0), 1e-12);
  RewardConfig c;
  c.tau = 0.6;
  EXPECT_NEAR(accuracy_reward(a, 4.0, c), std::exp(-1.0), 1e-12);
}

TEST(Rewards, AccuracyIsZeroOnAParseFailure) {
  EXPECT_EQ(accuracy_reward(parse_answer("<answer>three</answer>"), 3.0), 0.0);
  EXPECT_EQ(accuracy_reward(parse_answer("3.0"), 3.0), 0.0);
  EXPECT_EQ(accuracy_reward(parse_answer("<answer>3</answer>"), std::nan("")), 0.0);
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
    if (t.format > 0) EXPECT_TRUE(t.answer.ok()) << s;  // strict format implies a parsable score
  }
}
