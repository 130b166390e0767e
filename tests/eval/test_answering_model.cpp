// The hand-wired test model of answering_model.h does what the other eval tests rely on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

// Readout::expected against an independent computation: the same probabilities by teacher forcing (a full
// forward pass per candidate answer, no KV cache), combined by the rule of scoring.h.
TEST(AnsweringModel, ExpectedReadoutIsTheMeanOfTheAnswersDigitDistribution) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m");
  auto m = model::IqaModel::load((dir.path() / "m").string());
  std::vector<Image> images;
  for (int level : {0, 90, 110, 128, 150, 255}) images.push_back(test::grey_image(64, 48, level, level + 1));
  std::vector<const Image*> ptrs;
  for (const auto& i : images) ptrs.push_back(&i);
  auto opts = model::default_score_options(m, 0, 0);
  const auto greedy = model::score_images(m, ptrs, opts);
  opts.readout = model::Readout::expected;
  const auto expected = model::score_images(m, ptrs, opts);
  const auto again = model::score_images(m, ptrs, opts);
  ASSERT_EQ(expected.size(), images.size());

  torch::NoGradGuard no_grad;
  auto& policy = m.policy();
  const auto visuals = policy.encode_images(policy.preprocess(ptrs));
  const auto tok = [&](char c) { return static_cast<std::int64_t>(m.tokenizer().encode(std::string(1, c), false).at(0)); };
  const std::vector<std::int64_t> head = {262, 'o', 'k', 263, 264};  // <think>ok</think><answer>
  // log p of the last token of each completion (head + tail), for one image.
  const auto last_logprobs = [&](std::size_t image, const std::vector<std::vector<std::int64_t>>& tails) {
    model::PromptBatch prompts;
    std::vector<std::int64_t> flat;
    const std::int64_t L = static_cast<std::int64_t>(head.size() + tails[0].size());
    for (const auto& t : tails) {
      prompts.tokens.push_back(m.prompt_ids(images[image].width, images[image].height));
      prompts.image.push_back(static_cast<std::int64_t>(image));
      flat.insert(flat.end(), head.begin(), head.end());
      flat.insert(flat.end(), t.begin(), t.end());
    }
    model::CompletionBatch c;
    const auto n = static_cast<std::int64_t>(tails.size());
    c.tokens = torch::tensor(flat, torch::kInt64).view({n, L});
    c.mask = torch::ones({n, L}, torch::kBool);
    const auto lp = policy.token_logprobs(prompts, visuals, c).select(1, L - 1).to(torch::kFloat64);
    return std::vector<double>(lp.data_ptr<double>(), lp.data_ptr<double>() + n);
  };
  const auto normalise = [](std::vector<double> lp) {
    const double top = *std::max_element(lp.begin(), lp.end());
    double sum = 0;
    for (auto& v : lp) sum += (v = std::exp(v - top));
    for (auto& v : lp) v /= sum;
    return lp;
  };
  bool some_between_digits = false;
  for (std::size_t i = 0; i < images.size(); ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    ASSERT_EQ(expected[i].status, ScoreStatus::ok);
    EXPECT_EQ(expected[i].answer, greedy[i].score);  // the written number is kept beside the read-out
    EXPECT_EQ(expected[i].completion, greedy[i].completion);
    EXPECT_EQ(expected[i].score, again[i].score);    // deterministic
    std::vector<std::vector<std::int64_t>> first;
    for (char d = '1'; d <= '5'; ++d) first.push_back({tok(d)});
    const auto p_int = normalise(last_logprobs(i, first));
    double value = 0;
    for (int d = 1; d <= 5; ++d) {
      std::vector<std::vector<std::int64_t>> dec1, dec2;
      for (char e = '0'; e <= '9'; ++e) dec1.push_back({tok('0' + d), tok('.'), tok(e)});
      const auto p_e = normalise(last_logprobs(i, dec1));
      const int e_best = static_cast<int>(std::max_element(p_e.begin(), p_e.end()) - p_e.begin());
      for (char f = '0'; f <= '9'; ++f) dec2.push_back({tok('0' + d), tok('.'), tok('0' + e_best), tok(f)});
      const auto p_f = normalise(last_logprobs(i, dec2));
      for (int e = 0; e < 10; ++e)
        for (int f = 0; f < 10; ++f) value += p_int[d - 1] * p_e[e] * p_f[f] * std::min(5.0, d + e / 10.0 + f / 100.0);
    }
    EXPECT_NEAR(expected[i].score, value, 2e-5);  // float32 logits of ~60 on both paths
    if (std::abs(expected[i].score - std::round(expected[i].score)) > 0.1) some_between_digits = true;
  }
  EXPECT_TRUE(some_between_digits) << "the test images should include one the model is unsure about";
  for (std::size_t i = 1; i < images.size(); ++i) EXPECT_LT(expected[i - 1].score, expected[i].score);
}

TEST(AnsweringModel, ExpectedReadoutKeepsParseFailuresAndRefusesSamples) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m", test::AnswerMode::no_answer);
  auto m = model::IqaModel::load((dir.path() / "m").string());
  const Image img = test::grey_image(64, 48, 128, 1);
  auto opts = model::default_score_options(m, 0, 0);
  opts.readout = model::Readout::expected;
  const auto s = model::score_images(m, {&img}, opts);
  EXPECT_EQ(s[0].status, ScoreStatus::no_answer_tag);
  EXPECT_TRUE(std::isnan(s[0].score));
  opts.samples = 4;
  try {
    model::score_images(m, {&img}, opts);
    FAIL() << "expected readout with samples must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  EXPECT_EQ(model::readout_from_name("expected"), model::Readout::expected);
  EXPECT_THROW(model::readout_from_name("mean"), Error);
}

// Readout::head: the score is the auxiliary head's (clamped to the range), whatever the answer writes; the
// reasoning and the answer's own number are kept. Refused with samples and for a model without a head.
TEST(AnsweringModel, HeadReadoutIsTheAuxiliaryHeadsScore) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m", test::AnswerMode::brightness_digit, "answering-test", /*aux_head=*/true);
  test::write_answering_model(dir.path() / "silent", test::AnswerMode::no_answer, "answering-test", /*aux_head=*/true);
  test::write_answering_model(dir.path() / "plain");
  auto m = model::IqaModel::load((dir.path() / "m").string());
  std::vector<Image> images;
  for (int level : {0, 60, 100, 128, 160, 255}) images.push_back(test::grey_image(64, 48, level, level + 1));
  std::vector<const Image*> ptrs;
  for (const auto& i : images) ptrs.push_back(&i);
  auto opts = model::default_score_options(m, 0, 0);
  const auto answers = model::score_images(m, ptrs, opts);
  opts.readout = model::Readout::head;
  const auto head = model::score_images(m, ptrs, opts);
  std::vector<double> expected;
  {
    torch::NoGradGuard g;
    auto& policy = m.policy();
    expected = policy.auxiliary_scores(policy.encode_images(policy.preprocess(ptrs)));
  }
  ASSERT_EQ(expected.size(), images.size());
  bool between = false;
  for (std::size_t i = 0; i < images.size(); ++i) {
    EXPECT_EQ(head[i].status, ScoreStatus::ok);
    EXPECT_NEAR(head[i].score, std::clamp(expected[i], 1.0, 5.0), 1e-6) << i;
    EXPECT_EQ(head[i].answer, answers[i].score) << "the written number is kept";
    EXPECT_EQ(head[i].reasoning, "ok");
    EXPECT_EQ(head[i].completion, answers[i].completion);
    if (std::abs(head[i].score - std::round(head[i].score)) > 0.05) between = true;
    if (i > 0) EXPECT_LT(head[i - 1].score, head[i].score);
  }
  EXPECT_TRUE(between) << "the head's score is continuous, not the written digit";
  EXPECT_NEAR(head.front().score, 1.0, 0.3);
  EXPECT_EQ(head.back().score, 5.0) << "clamped to the range";
  // an answer that does not parse still gets the head's score
  auto silent = model::IqaModel::load((dir.path() / "silent").string());
  const auto s = model::score_images(silent, {ptrs[3]}, opts);
  EXPECT_EQ(s[0].status, ScoreStatus::ok);
  EXPECT_NEAR(s[0].score, expected[3], 1e-6);
  EXPECT_TRUE(std::isnan(s[0].answer));
  // refused: with samples, and for a model without an auxiliary head
  opts.samples = 4;
  EXPECT_THROW(model::score_images(m, {ptrs[0]}, opts), Error);
  opts.samples = 0;
  auto plain = model::IqaModel::load((dir.path() / "plain").string());
  try {
    model::score_images(plain, {ptrs[0]}, opts);
    FAIL() << "a model without an auxiliary head has no head score";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("auxiliary"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model::readout_from_name("head"), model::Readout::head);
  EXPECT_EQ(model::readout_name(model::Readout::head), "head");
}

// The expected read-out starts at the answer's first digit, not at a digit of the reasoning.
TEST(AnsweringModel, AnswerNumberStartSkipsDigitsOfTheReasoning) {
  test::TempDir dir;
  test::write_answering_model(dir.path() / "m");
  auto m = model::IqaModel::load((dir.path() / "m").string());
  std::vector<std::int64_t> digits;
  for (char d = '0'; d <= '9'; ++d) digits.push_back(static_cast<std::int64_t>(m.tokenizer().encode(std::string(1, d), false).at(0)));
  const auto decode = [&](const std::vector<std::int64_t>& ids) { return m.decode(ids); };
  const auto start = [&](const std::string& text) {
    const auto ids = m.tokenizer().encode(text, true);
    const std::vector<std::int64_t> tokens(ids.begin(), ids.end());
    const auto at = model::answer_number_start(tokens, digits, decode);
    return at < 0 ? std::string("none") : m.decode({tokens.begin() + at, tokens.end()});
  };
  EXPECT_EQ(start("<think>severe jpeg, 8x8 blocks visible</think><answer>1.35</answer>"), "1.35</answer>");
  EXPECT_EQ(start("<think>ok</think><answer> 4.2</answer>"), "4.2</answer>");
  EXPECT_EQ(start("<think>ok</think><ANSWER>3</ANSWER>"), "3</ANSWER>");
  EXPECT_EQ(start("<think>level 3</think><answer>high</answer> 4"), "none");
  EXPECT_EQ(start("<think>level 3</think>"), "none");
}
