// The "reasoning" section of `hawkeye eval`: whether the model's reasoning names the right distortion family.
// The tally on hand-made rows; evaluate() with a wired model whose every answer reasons "blur", with K samples,
// after --resume with hand-written reasoning; no section without type ids; the line in the CLI summary.
#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_data.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/version.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/eval/evaluator.h"
#include "hawkeye/eval/reasoning_family.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/model/iqa_model.h"

using namespace hawkeye;
using test::cli;
using test::q;

namespace {

// The answering model of answering_model.h with its reasoning "ok" replaced by `text` (at most 8 distinct
// characters, no digits 1-5): the bigram links <think> -> text[0] -> ... -> </think> use residual slots 3, 4, 5
// (freed from "o", "k") and 9..14, which nothing else reads.
void write_reasoning_model(const fs::path& dir, const std::string& text) {
  auto policy = test::answering_policy(test::AnswerMode::brightness_digit);
  {
    torch::NoGradGuard g;
    auto params = policy->named_parameters(true);
    auto embed = params["lm.model.embed_tokens.weight"];
    auto head = params["lm.lm_head.weight"];
    const std::vector<int> slots = {3, 4, 5, 9, 10, 11, 12, 13, 14};
    ASSERT_LE(text.size() + 1, slots.size());
    for (int s : slots) {
      embed.select(1, s).zero_();
      head.select(1, s).zero_();
    }
    const int think = 262, end_think = 263;
    std::vector<int> chain = {think};
    for (unsigned char c : text) chain.push_back(c);
    chain.push_back(end_think);
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
      embed[chain[i]][slots[i]] = 10.0;
      head[chain[i + 1]][slots[i]] = 25.0;
    }
  }
  model::IqaContract contract;
  contract.model_id = "reasoning-" + text;
  contract.prompt = "qhawkeye-infer";
  contract.sampling.max_new_tokens = 16;
  model::save_model_dir(dir, *policy, policy->config().to_json(), contract,
                        resource_dir() / "tokenizers" / "hawkeye-byte" / "tokenizer.json");
}

struct Row {
  const char* name;
  int type_id;  // 0: no type_id field
  int level;
  double label;
  bool exists = true;
};

// Visible: gaussian_blur L3/L5, lens_blur L4 (blur); jpeg L2/L5 (compression); white_noise L3 (noise).
// Invisible: gaussian_blur L1 and mean_shift L3 (identity levels), darken L2 (label 4.53 >= 4.4).
// Not judged: a missing file with a type id, and a row without one.
const std::vector<Row> kRows = {
    {"b13", 1, 3, 3.9},  {"b15", 1, 5, 1.5},  {"b11", 1, 1, 4.61}, {"l24", 2, 4, 2.5},
    {"j102", 10, 2, 4.25}, {"j105", 10, 5, 1.3}, {"n113", 11, 3, 3.2}, {"m183", 18, 3, 4.6},
    {"d172", 17, 2, 4.53}, {"x1", 11, 2, 3.0, false}, {"plain", 0, 0, 3.5},
};

fs::path write_typed_manifest(const fs::path& dir, bool with_missing) {
  fs::create_directories(dir / "images");
  std::string text =
      R"({"hawkeye_manifest":1,"form":"nr","score_field":"label","score_range":[1,5],"higher_better":true})" "\n";
  int i = 0;
  for (const Row& r : kRows) {
    if (!r.exists && !with_missing) continue;
    const std::string image = std::string("images/") + r.name + ".png";
    if (r.exists) save_image(dir / image, test::grey_image(40, 32, 20 + 20 * i, 70 + i));
    ++i;
    nlohmann::ordered_json row;
    row["image"] = image;
    row["label"] = r.label;
    if (r.type_id > 0) {
      row["type_id"] = r.type_id;
      row["type_name"] = kadid_distortion(r.type_id).name;
      row["level"] = r.level;
    }
    text += row.dump() + "\n";
  }
  write_file_atomic(dir / "test.jsonl", text);
  return dir / "test.jsonl";
}

struct ReasoningWorld {
  test::TempDir tmp;
  fs::path blur_model = tmp.path() / "blur-model";
  fs::path ok_model = tmp.path() / "ok-model";
  fs::path data = write_typed_manifest(tmp.path() / "typed", true);
  fs::path clean_data = write_typed_manifest(tmp.path() / "typed-clean", false);
  ReasoningWorld() {
    write_reasoning_model(blur_model, "blur");
    test::write_answering_model(ok_model);
  }
};

ReasoningWorld& world() {
  static ReasoningWorld w;
  return w;
}

// Loads the model and evaluates it on the manifest, batches of 4, writing (or resuming) `predictions`.
eval::EvalReport evaluate_with(const fs::path& model_dir, const fs::path& data, const fs::path& predictions,
                               std::int64_t samples = 0, bool resume = false) {
  auto m = model::IqaModel::load(model_dir.string());
  eval::EvalOptions o;
  o.score = model::default_score_options(m, samples, 3);
  o.batch = 4;
  o.predictions = predictions;
  o.resume = resume;
  return eval::evaluate(m, read_manifest(data), o);
}

// The counts every "blur"-reasoning run over kRows must give.
void expect_blur_everywhere(const ordered_json& j) {
  EXPECT_EQ(j["rows"], 6);
  EXPECT_EQ(j["right_family"], 3);
  EXPECT_DOUBLE_EQ(j["rate"].get<double>(), 0.5);
  EXPECT_EQ(j["excluded_invisible"], 3);
  EXPECT_EQ(j["invisible"]["rows"], 3);
  EXPECT_EQ(j["invisible"]["right"], 1);  // gaussian_blur L1 is a blur type
  EXPECT_EQ(j["invisible"]["named_none"], 0);
  EXPECT_EQ(j["not_judged"], 2);
  const auto& t = j["per_type"];
  EXPECT_EQ(t.size(), 6u);
  EXPECT_EQ(t["gaussian_blur"]["type_id"], 1);
  EXPECT_EQ(t["gaussian_blur"]["family"], "blur");
  EXPECT_EQ(t["gaussian_blur"]["rows"], 2);
  EXPECT_EQ(t["gaussian_blur"]["right"], 2);
  EXPECT_DOUBLE_EQ(t["gaussian_blur"]["rate"].get<double>(), 1.0);
  EXPECT_EQ(t["gaussian_blur"]["excluded_invisible"], 1);
  EXPECT_DOUBLE_EQ(t["lens_blur"]["rate"].get<double>(), 1.0);
  EXPECT_EQ(t["jpeg"]["rows"], 2);
  EXPECT_DOUBLE_EQ(t["jpeg"]["rate"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(t["white_noise"]["rate"].get<double>(), 0.0);
  EXPECT_EQ(t["mean_shift"]["rows"], 0);
  EXPECT_TRUE(t["mean_shift"]["rate"].is_null());
  EXPECT_EQ(t["mean_shift"]["excluded_invisible"], 1);
  EXPECT_EQ(t["darken"]["excluded_invisible"], 1);
  EXPECT_FALSE(t.contains("white_noise_color_component"));
  EXPECT_EQ(j["per_family"]["blur"]["rows"], 3);
  EXPECT_EQ(j["per_family"]["compression"]["right"], 0);
  EXPECT_EQ(j["per_family"].size(), 3u);
  EXPECT_EQ(j["confusion"], ordered_json::parse(R"({"blur":{"blur":3},"compression":{"blur":2},"noise":{"blur":1}})"));
}

}  // namespace

TEST(ReasoningFamily, TallyCountsRightFamiliesAndKeepsInvisibleRowsApart) {
  eval::ReasoningFamilyTally t;
  t.add(1, 3, 3.0, "moderate lens blur, edges smeared");      // right
  t.add(1, 4, 2.4, "strong jpeg blocking, then blur");         // compression named first: wrong
  t.add(10, 5, 1.3, "");                                        // none: wrong
  t.add(21, 3, 3.1, "Clear PIXELATION, square pixels visible"); // right, case-insensitive
  t.add(18, 3, 4.6, "no visible distortion");                   // identity level: invisible
  t.add(9, 1, 4.55, "barely visible jpeg2000 compression");     // label >= 4.4: invisible (and right)
  EXPECT_EQ(t.visible.rows, 4u);
  EXPECT_EQ(t.visible.right, 2u);
  EXPECT_DOUBLE_EQ(t.rate(), 0.5);
  EXPECT_EQ(t.invisible.rows, 2u);
  EXPECT_EQ(t.invisible.right, 1u);
  EXPECT_EQ(t.invisible_named_none, 1u);
  EXPECT_EQ(t.per_type.at(1).rows, 2u);
  EXPECT_EQ(t.per_type.at(1).right, 1u);
  EXPECT_EQ(t.confusion.at("blur").at("compression"), 1u);
  EXPECT_EQ(t.confusion.at("compression").at("none"), 1u);
  const ordered_json j = t.to_json();
  EXPECT_EQ(j["rule"], eval::reasoning_family_rule());
  EXPECT_DOUBLE_EQ(j["per_type"]["pixelate"]["rate"].get<double>(), 1.0);
  EXPECT_TRUE(j["per_type"]["mean_shift"]["rate"].is_null());
  EXPECT_DOUBLE_EQ(j["per_family"]["blur"]["rate"].get<double>(), 0.5);
  EXPECT_FALSE(j["per_family"].contains("brightness"));  // only invisible rows
  EXPECT_THROW(t.add(26, 1, 3.0, "blur"), Error);
  EXPECT_TRUE(std::isnan(eval::ReasoningFamilyTally{}.rate()));
  EXPECT_TRUE(eval::ReasoningFamilyTally{}.to_json()["rate"].is_null());
}

TEST(ReasoningFamily, EvaluatorJudgesTheGreedyReasoningOfTypedRows) {
  test::TempDir out;
  const auto r = evaluate_with(world().blur_model, world().data, out.path() / "predictions.jsonl");
  EXPECT_EQ(r.load_failures, 1u);
  EXPECT_EQ(r.correlation.n, kRows.size() - 1);
  EXPECT_EQ(r.predictions[0].reasoning, "blur");
  EXPECT_EQ(r.predictions[0].type_id, 1);
  EXPECT_EQ(r.predictions[0].level, 3);
  EXPECT_EQ(r.predictions.back().type_id, 0);
  ASSERT_TRUE(r.reasoning.has_value());
  const ordered_json j = r.to_json();
  ASSERT_TRUE(j.contains("reasoning"));
  expect_blur_everywhere(j["reasoning"]);
}

TEST(ReasoningFamily, WithSamplesTheFirstAnswersReasoningIsJudged) {
  test::TempDir out;
  const auto r = evaluate_with(world().blur_model, world().data, out.path() / "predictions.jsonl", 3);
  EXPECT_EQ(r.predictions[0].reasoning, "blur");
  ASSERT_TRUE(r.reasoning.has_value());
  expect_blur_everywhere(r.to_json()["reasoning"]);
}

TEST(ReasoningFamily, ResumedRowsAreJudgedByTheReasoningInThePredictionsFile) {
  test::TempDir out;
  const fs::path predictions = out.path() / "predictions.jsonl";
  evaluate_with(world().blur_model, world().data, predictions);

  // Rewrite the reasoning of three rows, as another model might have written it.
  const std::map<std::string, std::string> rewritten = {
      {"images/j102.png", "mild JPEG blocking"},
      {"images/n113.png", "moderate grain noise, grainy throughout"},
      {"images/m183.png", "no visible distortion"},
  };
  std::string text;
  for (auto line : test::jsonl_lines(read_file(predictions))) {
    if (line.contains("image") && rewritten.count(line["image"].get<std::string>())) {
      line["reasoning"] = rewritten.at(line["image"].get<std::string>());
    }
    text += line.dump() + "\n";
  }
  write_file_atomic(predictions, text);

  const auto r = evaluate_with(world().blur_model, world().data, predictions, 0, /*resume=*/true);
  EXPECT_EQ(r.resumed_rows, kRows.size());
  EXPECT_EQ(r.images_this_run, 0u);
  const ordered_json j = r.to_json()["reasoning"];
  EXPECT_EQ(j["rows"], 6);
  EXPECT_EQ(j["right_family"], 5);  // only jpeg L5 still reasons "blur"
  EXPECT_EQ(j["invisible"]["named_none"], 1);
  EXPECT_DOUBLE_EQ(j["per_type"]["jpeg"]["rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["per_type"]["white_noise"]["rate"].get<double>(), 1.0);
  EXPECT_EQ(j["confusion"]["compression"], ordered_json::parse(R"({"blur":1,"compression":1})"));
}

TEST(ReasoningFamily, NoSectionWithoutTypeIds) {
  test::TempDir out;
  // type_name columns, but no type_id: the per-type breakdown is there, the reasoning section is not.
  const fs::path data = test::write_grey_manifest(out.path() / "grey", 6);
  const auto r = evaluate_with(world().ok_model, data, out.path() / "predictions.jsonl");
  EXPECT_FALSE(r.per_type.empty());
  EXPECT_FALSE(r.reasoning.has_value());
  EXPECT_FALSE(r.to_json().contains("reasoning"));
}

TEST(ReasoningFamily, CliSummaryPrintsTheRate) {
  REQUIRE_CLI();
  test::TempDir out;
  const auto r = cli("eval --model " + q(world().blur_model) + " --data " + q(world().clean_data) + " --out " + q(out.path()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reasoning names the right distortion family in 50.0 % of rows (3 of 6; 3 barely visible "
                          "rows left out)"),
            std::string::npos)
      << r.output;
  const auto report = nlohmann::json::parse(read_file(out.path() / "report.json"));
  EXPECT_EQ(report["reasoning"]["not_judged"], 1);  // the row without a type id
}
