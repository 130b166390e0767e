// evaluate(): statistics consistent with correlate() on the written predictions, per-type breakdown,
// resume without re-scoring, torn lines, mismatched settings, parse failures, and the scatter plot.
#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_data.h"
#include "hawkeye/core/error.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/eval/evaluator.h"
#include "hawkeye/eval/scatter_plot.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/model/iqa_model.h"

using namespace hawkeye;

namespace {

struct EvalWorld {
  test::TempDir tmp;
  fs::path model_dir = tmp.path() / "answering";
  fs::path mute_dir = tmp.path() / "mute";
  fs::path manifest_path;
  EvalWorld() {
    test::write_answering_model(model_dir);
    test::write_answering_model(mute_dir, test::AnswerMode::no_answer, "mute-test");
    manifest_path = test::write_grey_manifest(tmp.path() / "data", 14, /*missing=*/true);
  }
};

EvalWorld& world() {
  static EvalWorld w;
  return w;
}

eval::EvalOptions options(model::IqaModel& m, const fs::path& predictions, std::int64_t samples = 0) {
  eval::EvalOptions o;
  o.score = model::default_score_options(m, samples, 5);
  o.batch = 4;
  o.predictions = predictions;
  return o;
}

std::vector<nlohmann::json> lines_of(const fs::path& p) { return test::jsonl_lines(read_file(p)); }

}  // namespace

TEST(Evaluator, ReportAgreesWithADirectCorrelationOfThePredictionsFile) {
  auto m = model::IqaModel::load(world().model_dir.string());
  const Manifest manifest = read_manifest(world().manifest_path);
  test::TempDir out;
  const auto r = eval::evaluate(m, manifest, options(m, out.path() / "predictions.jsonl"));
  EXPECT_EQ(r.data_rows, 15u);
  EXPECT_EQ(r.evaluated_rows, 15u);
  EXPECT_EQ(r.load_failures, 1u);
  EXPECT_EQ(r.parse_failures, 0u);
  EXPECT_EQ(r.correlation.n, 14u);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.type_column, "type_name");

  const auto lines = lines_of(out.path() / "predictions.jsonl");
  ASSERT_EQ(lines.size(), 16u);  // run line + one per row
  EXPECT_EQ(lines[0]["hawkeye_predictions"], 1);
  EXPECT_EQ(lines[0]["model"], "answering-test");
  std::vector<double> pred, label;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto& row = manifest.rows[i - 1];
    EXPECT_EQ(lines[i]["image"], row.image);
    EXPECT_DOUBLE_EQ(lines[i]["label"].get<double>(), manifest.scale.to_label(row.score));
    EXPECT_EQ(lines[i]["type"], extra_text(row, "type_name"));
    if (lines[i]["status"] != "ok") {
      EXPECT_EQ(lines[i]["status"], "load_error");
      EXPECT_TRUE(lines[i]["score"].is_null());
      continue;
    }
    pred.push_back(lines[i]["score"].get<double>());
    label.push_back(lines[i]["label"].get<double>());
  }
  const CorrelationReport direct = correlate(pred, label);
  EXPECT_DOUBLE_EQ(r.correlation.srcc.value, direct.srcc.value);
  EXPECT_DOUBLE_EQ(r.correlation.krcc.value, direct.krcc.value);
  EXPECT_DOUBLE_EQ(r.correlation.plcc.value, direct.plcc.value);
  EXPECT_DOUBLE_EQ(r.correlation.rmse.value, direct.rmse.value);
  EXPECT_DOUBLE_EQ(r.correlation.plcc_fitted.value, direct.plcc_fitted.value);
  EXPECT_DOUBLE_EQ(r.correlation.rmse_fitted.value, direct.rmse_fitted.value);
  EXPECT_GT(r.correlation.srcc.value, 0.8);  // the wired model follows brightness, and so do the labels

  // Per type: rows add up, each SRCC is the SRCC of that type's predictions.
  ASSERT_EQ(r.per_type.size(), 3u);
  std::size_t rows = 0;
  for (const auto& t : r.per_type) {
    rows += t.rows;
    std::vector<double> x, y;
    for (const auto& p : r.predictions)
      if (p.type == t.type && std::isfinite(p.score)) x.push_back(p.score), y.push_back(p.label);
    EXPECT_EQ(t.n, x.size());
    EXPECT_DOUBLE_EQ(t.srcc.value, srcc(x, y).value) << t.type;
  }
  EXPECT_EQ(rows, 15u);
  EXPECT_EQ(r.per_type[0].type, "blur");
  EXPECT_EQ(r.per_type[0].load_failures, 1u);  // the missing file is a blur row
}

TEST(Evaluator, ReportJsonHasEveryField) {
  auto m = model::IqaModel::load(world().model_dir.string());
  test::TempDir out;
  auto r = eval::evaluate(m, read_manifest(world().manifest_path), options(m, ""));
  r.model_load_seconds = 0.25;
  const auto j = r.to_json();
  for (const char* key : {"hawkeye_eval", "model", "data", "protocol", "sampling", "device", "complete", "n", "parse_failures",
                          "load_failures", "srcc", "plcc", "krcc", "rmse", "plcc_fitted", "rmse_fitted", "logistic", "reasons",
                          "mean_sample_std", "per_type", "timing", "versions"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["model"]["id"], "answering-test");
  EXPECT_EQ(j["data"]["path"], fs::absolute(world().manifest_path).lexically_normal().string());
  EXPECT_EQ(j["data"]["rows"], 15);
  EXPECT_EQ(j["data"]["type_column"], "type_name");
  EXPECT_NE(j["protocol"].get<std::string>().find("logistic"), std::string::npos);
  EXPECT_EQ(j["sampling"]["mode"], "greedy");
  EXPECT_GT(j["timing"]["images_per_second"].get<double>(), 0.0);
  EXPECT_EQ(j["timing"]["images_this_run"], 15);
  EXPECT_EQ(j["timing"]["model_load_seconds"], 0.25);
  for (const char* key : {"hawkeye", "git", "libtorch"}) EXPECT_FALSE(j["versions"][key].get<std::string>().empty()) << key;
  EXPECT_EQ(j["per_type"].size(), 3u);
  EXPECT_TRUE(j["logistic"]["fitted"].get<bool>());
}

TEST(Evaluator, ResumeContinuesAnInterruptedRunWithoutRescoring) {
  auto m = model::IqaModel::load(world().model_dir.string());
  const Manifest manifest = read_manifest(world().manifest_path);
  test::TempDir out;
  const auto file = out.path() / "predictions.jsonl";
  const auto full = eval::evaluate(m, manifest, options(m, out.path() / "full.jsonl"));

  // Interrupted after the first batch of 4.
  std::atomic<bool> stop{false};
  auto o = options(m, file);
  o.stop = &stop;
  o.on_progress = [&](std::size_t done, std::size_t) {
    if (done >= 2) stop = true;
  };
  const auto first = eval::evaluate(m, manifest, o);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(lines_of(file).size(), 5u);

  // Tamper with a kept line: a resumed run must take it as written (it does not score that image again).
  auto lines = lines_of(file);
  const double original = lines[1]["score"].get<double>();
  lines[1]["score"] = original == 5.0 ? 4.0 : original + 1.0;
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  text += R"({"image":"images/img10)";  // a torn last line, as after a crash
  write_file_atomic(file, text);

  o.stop = nullptr;
  o.on_progress = nullptr;
  o.resume = true;
  const auto resumed = eval::evaluate(m, manifest, o);
  EXPECT_TRUE(resumed.complete);
  EXPECT_EQ(resumed.resumed_rows, 4u);
  EXPECT_EQ(resumed.images_this_run, 11u);
  EXPECT_EQ(resumed.predictions[0].score, lines[1]["score"].get<double>());
  EXPECT_TRUE(resumed.predictions[0].resumed);
  const auto after = lines_of(file);  // every line parses: the torn one was dropped
  ASSERT_EQ(after.size(), 16u);
  for (std::size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i]["image"], manifest.rows[i - 1].image);
  // Apart from the tampered score, the resumed predictions are those of an uninterrupted run.
  for (std::size_t i = 1; i < full.predictions.size(); ++i) {
    EXPECT_EQ(resumed.predictions[i].status, full.predictions[i].status) << i;
    if (std::isfinite(full.predictions[i].score)) EXPECT_EQ(resumed.predictions[i].score, full.predictions[i].score) << i;
  }
}

TEST(Evaluator, ResumeRefusesPredictionsOfOtherSettings) {
  auto m = model::IqaModel::load(world().model_dir.string());
  const Manifest manifest = read_manifest(world().manifest_path);
  test::TempDir out;
  const auto file = out.path() / "predictions.jsonl";
  auto o = options(m, file);
  o.max_images = 3;
  eval::evaluate(m, manifest, o);
  auto other = options(m, file, /*samples=*/2);
  other.resume = true;
  try {
    eval::evaluate(m, manifest, other);
    FAIL() << "resumed predictions of greedy decoding with 2 samples";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("sampling"), std::string::npos) << e.what();
  }
  write_file_atomic(file, "{\"image\":\"a.png\",\"status\":\"ok\"}\n");
  EXPECT_THROW(eval::evaluate(m, manifest, [&] { auto r = o; r.resume = true; return r; }()), Error);
}

TEST(Evaluator, ExpectedReadoutIsRecordedAndNotResumedAsTheWrittenAnswer) {
  auto m = model::IqaModel::load(world().model_dir.string());
  const Manifest manifest = read_manifest(world().manifest_path);
  test::TempDir out;
  const auto file = out.path() / "predictions.jsonl";
  auto o = options(m, file);
  o.score.readout = model::Readout::expected;
  o.max_images = 4;
  const auto r = eval::evaluate(m, manifest, o);
  const auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["sampling"]["readout"], "expected");
  EXPECT_EQ(r.sampling["readout"], "expected");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i]["status"] != "ok") continue;
    EXPECT_TRUE(lines[i]["answer"].is_number()) << lines[i].dump();
    EXPECT_EQ(lines[i]["score"].get<double>(), r.predictions[i - 1].score);
  }
  // Predictions of one read-out are not continued with the other.
  auto other = options(m, file);
  other.resume = true;
  EXPECT_THROW(eval::evaluate(m, manifest, other), Error);
}

TEST(Evaluator, ModelWithoutParsableAnswersGivesUndefinedStatisticsWithReasons) {
  auto m = model::IqaModel::load(world().mute_dir.string());
  test::TempDir out;
  auto o = options(m, "");
  o.max_images = 5;
  const auto r = eval::evaluate(m, read_manifest(world().manifest_path), o);
  EXPECT_EQ(r.correlation.n, 0u);
  EXPECT_EQ(r.parse_failures, 5u);
  EXPECT_FALSE(r.correlation.srcc.defined());
  EXPECT_FALSE(r.correlation.srcc.reason.empty());
  eval::write_eval_outputs(out.path(), r, 400, 300);  // a plot without points is still a plot
  EXPECT_EQ(test::png_size(read_file(out.path() / "scatter.png")), std::make_pair(400, 300));
  EXPECT_TRUE(nlohmann::json::parse(read_file(out.path() / "report.json"))["srcc"].is_null());
}

TEST(Evaluator, SamplesGiveAMeanSpreadPerImage) {
  auto m = model::IqaModel::load(world().model_dir.string());
  auto o = options(m, "", 4);
  o.max_images = 6;
  const auto r = eval::evaluate(m, read_manifest(world().manifest_path), o);
  ASSERT_EQ(r.correlation.n, 6u);
  double sum = 0;
  for (const auto& p : r.predictions) sum += p.std;
  EXPECT_DOUBLE_EQ(r.mean_sample_std, sum / 6);
  EXPECT_GT(r.mean_sample_std, 0.0);
}

TEST(ScatterPlot, WritesAPngOfTheRequestedSizeWithPointsAndLegend) {
  auto m = model::IqaModel::load(world().model_dir.string());
  test::TempDir out;
  const auto r = eval::evaluate(m, read_manifest(world().manifest_path), options(m, ""));
  eval::write_eval_outputs(out.path(), r, 800, 500);
  const std::string png = read_file(out.path() / "scatter.png");
  EXPECT_EQ(test::png_size(png), std::make_pair(800, 500));
  const Image img = load_image(out.path() / "scatter.png");  // decodes: a valid PNG
  ASSERT_EQ(img.width, 800);
  ASSERT_EQ(img.height, 500);
  // Every group's colour is on the canvas (points and legend swatches).
  for (int g = 0; g < 3; ++g) {
    double rgb[3];
    eval::group_colour(g, rgb);
    std::size_t hits = 0;
    for (std::size_t i = 0; i + 2 < img.pixels.size(); i += 3) {
      if (std::abs(img.pixels[i] - rgb[0] * 255) < 3 && std::abs(img.pixels[i + 1] - rgb[1] * 255) < 3 &&
          std::abs(img.pixels[i + 2] - rgb[2] * 255) < 3)
        ++hits;
    }
    EXPECT_GT(hits, 10u) << "group " << g;
  }
}

TEST(ScatterPlot, RefusesBadSizesAndRanges) {
  eval::ScatterPlot p;
  EXPECT_THROW(eval::render_scatter_png(p, 100, 100), Error);
  p.x_max = p.x_min;
  EXPECT_THROW(eval::render_scatter_png(p, 400, 300), Error);
  eval::ScatterPlot nan_points;
  nan_points.points = {{NAN, 2, 0}, {3, INFINITY, 0}, {2, 2, 0}};
  nan_points.groups = {"a"};
  EXPECT_EQ(test::png_size(eval::render_scatter_png(nan_points, 300, 200)), std::make_pair(300, 200));
}

TEST(ScatterPlot, GroupColoursAreDistinctForTwentyFiveTypes) {
  std::vector<std::array<double, 3>> c(25);
  for (int i = 0; i < 25; ++i) eval::group_colour(i, c[i].data());
  for (int i = 0; i < 25; ++i) {
    for (int k = 0; k < 3; ++k) {
      EXPECT_GE(c[i][k], 0.0);
      EXPECT_LE(c[i][k], 1.0);
    }
    for (int j = 0; j < i; ++j) {
      const double d = std::abs(c[i][0] - c[j][0]) + std::abs(c[i][1] - c[j][1]) + std::abs(c[i][2] - c[j][2]);
      EXPECT_GT(d, 0.05) << i << " vs " << j;
    }
  }
}

// Issue 19 §3: the scatter plot's title names the data set by folder and file, the PLCC as fitted, and says when
// the fit failed.
TEST(Evaluator, TheScatterTitleNamesTheSetAndTheFittedPlcc) {
  eval::EvalReport r;
  r.model = {{"id", "hawkeye-tiny"}};
  r.data_path = "/data/work/live-set/test.jsonl";
  r.correlation.n = 840;
  r.correlation.srcc.value = 0.91094;
  r.correlation.plcc.value = 0.8;
  r.correlation.plcc_fitted.value = 0.92345;
  r.correlation.logistic.fitted = true;
  EXPECT_EQ(eval::scatter_title(r), "hawkeye-tiny on live-set/test.jsonl: SRCC 0.911, PLCC (fitted) 0.923 (n = 840)");
  r.correlation.logistic.fitted = false;
  EXPECT_EQ(eval::scatter_title(r), "hawkeye-tiny on live-set/test.jsonl: SRCC 0.911, PLCC 0.800 (fit failed) (n = 840)");
  r.data_path = "test.jsonl";
  r.correlation.srcc.value = kNaN;
  EXPECT_EQ(eval::scatter_title(r), "hawkeye-tiny on test.jsonl: SRCC n/a, PLCC 0.800 (fit failed) (n = 840)");
}

TEST(Evaluator, HeadReadoutIsRecordedAndRefusedUpFrontWithoutAHead) {
  // A model without an auxiliary head: refused before the predictions file exists (nothing to clean up).
  auto plain = model::IqaModel::load(world().model_dir.string());
  const Manifest manifest = read_manifest(world().manifest_path);
  test::TempDir out;
  const auto refused = out.path() / "refused.jsonl";
  auto o = options(plain, refused);
  o.score.readout = model::Readout::head;
  EXPECT_THROW(eval::evaluate(plain, manifest, o), Error);
  EXPECT_FALSE(fs::exists(refused));

  // With a head: the run record says so, every image that loads is ok with the head's score, and the answer's
  // own number is kept beside it.
  const fs::path head_dir = out.path() / "with-head";
  test::write_answering_model(head_dir, test::AnswerMode::brightness_digit, "head-test", /*aux_head=*/true);
  auto m = model::IqaModel::load(head_dir.string());
  const auto file = out.path() / "predictions.jsonl";
  auto h = options(m, file);
  h.score.readout = model::Readout::head;
  h.max_images = 6;
  const auto r = eval::evaluate(m, manifest, h);
  const auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0]["sampling"]["readout"], "head");
  EXPECT_EQ(r.sampling["readout"], "head");
  int scored = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (!lines[i].contains("score") || !lines[i]["score"].is_number()) continue;  // the manifest's missing file
    ++scored;
    EXPECT_EQ(lines[i]["status"], "ok") << lines[i].dump();
    const double s = lines[i]["score"].get<double>();
    EXPECT_GE(s, 1.0);
    EXPECT_LE(s, 5.0);
    EXPECT_TRUE(lines[i]["answer"].is_number()) << lines[i].dump();
    const double a = lines[i]["answer"].get<double>();  // the answer writes a digit
    EXPECT_EQ(a, std::round(a)) << lines[i].dump();
  }
  EXPECT_GE(scored, 4);
  // Predictions of the head are not continued as the written answer's.
  auto other = options(m, file);
  other.resume = true;
  EXPECT_THROW(eval::evaluate(m, manifest, other), Error);
}
