// The hand-wired test model of answering_model.h does what the other eval tests rely on.
#include <gtest/gtest.h>

#include "answering_model.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/scoring.h"
#include "test_util.h"

using namespace hawkeye;

TEST(AnsweringModel, GreedyAnswerIsADigitThatGrowsWithBrightness) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m");
  auto m = model::IqaModel::load((dir.path() / "m").string());
  std::vector<Image> images;
  for (int level : {0, 64, 128, 192, 255}) images.push_back(test::grey_image(64, 48, level, level));
  std::vector<const Image*> ptrs;
  for (const auto& i : images) ptrs.push_back(&i);
  const auto scores = model::score_images(m, ptrs, model::default_score_options(m, 0, 0));
  ASSERT_EQ(scores.size(), 5u);
  for (const auto& s : scores) {
    EXPECT_EQ(s.status, ScoreStatus::ok) << s.completion;
    EXPECT_EQ(s.reasoning, "ok");
    EXPECT_EQ(s.completion, "<think>ok</think><answer>" + std::to_string(static_cast<int>(s.score)) + "</answer>");
  }
  EXPECT_EQ(scores.front().score, 1.0);
  EXPECT_EQ(scores.back().score, 5.0);
  for (std::size_t i = 1; i < scores.size(); ++i) EXPECT_LE(scores[i - 1].score, scores[i].score);
}

TEST(AnsweringModel, SamplesSpreadAroundTheGreedyDigit) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m");
  auto m = model::IqaModel::load((dir.path() / "m").string());
  const Image img = test::grey_image(64, 48, 128, 1);
  const auto s = model::score_images(m, {&img}, model::default_score_options(m, 16, 7));
  ASSERT_EQ(s[0].samples.size(), 16u);
  EXPECT_EQ(s[0].parsed, 16);
  EXPECT_GT(s[0].std, 0.0);
}

TEST(AnsweringModel, NoAnswerModeNeverParses) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m", test::AnswerMode::no_answer);
  auto m = model::IqaModel::load((dir.path() / "m").string());
  const Image img = test::grey_image(64, 48, 128, 1);
  const auto s = model::score_images(m, {&img}, model::default_score_options(m, 0, 0));
  EXPECT_EQ(s[0].status, ScoreStatus::no_answer_tag);
  EXPECT_EQ(s[0].completion, "<think>ok</think>");
  EXPECT_TRUE(std::isnan(s[0].score));
}
