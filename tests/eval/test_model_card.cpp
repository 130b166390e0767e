// The shipped default model keeps its word: rebuilding its held-out test split from the shared references
// (the split file in the model directory names them) and running `hawkeye eval` reproduces the SRCC its
// model card records within 0.01. Slow (125 s on 2 shared cores: 1,800 images are distorted, then scored).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval_test_data.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << p;
  return json::parse(in);
}

}  // namespace

TEST(ModelCardSlow, RecordedTestSrccIsReproducedByEval) {
  const fs::path model = fs::path(HAWKEYE_SOURCE_DIR) / "models/hawkeye-tiny";
  const fs::path shared = HAWKEYE_SHARED_DATA;
  ASSERT_TRUE(fs::exists(model / "MODEL_CARD.md")) << "the default model is not in the repository";
  const json splits = read_json(model / "data-splits.json");
  const json recorded = read_json(model / "eval/test-greedy/report.json");
  const json synth = read_json(model / "data-synth.json");

  std::string refs;
  for (const auto& id : splits["splits"]["test"]) {
    const std::string name = id.get<std::string>() + ".png";
    fs::path p = shared / "wikipedia" / name;
    if (!fs::exists(p)) p = shared / "kodak" / name;
    ASSERT_TRUE(fs::exists(p)) << "test reference " << name << " is not in " << shared;
    refs += " '" + p.string() + "'";
  }
  hawkeye::test::TempDir dir;
  const std::string cli = std::string("'") + HAWKEYE_CLI + "'";
  const auto size = synth["size"];
  auto r = hawkeye::test::run_command(cli + " --quiet synth --refs" + refs + " --size " + std::to_string(size[0].get<int>()) + "x" +
                                      std::to_string(size[1].get<int>()) + " --types all --levels 1-5 --split test=1 --seed " +
                                      std::to_string(synth["seed"].get<long long>()) + " --out '" + (dir.path() / "set").string() +
                                      "' 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  r = hawkeye::test::run_command(cli + " --quiet eval --model '" + model.string() + "' --data '" +
                                 (dir.path() / "set/test.jsonl").string() + "' --out '" + (dir.path() / "eval").string() + "' 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const json now = read_json(dir.path() / "eval/report.json");
  EXPECT_EQ(now["n"], recorded["n"]);
  EXPECT_EQ(now["parse_failures"], recorded["parse_failures"]);
  EXPECT_NEAR(now["srcc"].get<double>(), recorded["srcc"].get<double>(), 0.01);
  EXPECT_NEAR(now["plcc_fitted"].get<double>(), recorded["plcc_fitted"].get<double>(), 0.01);
}

// The README's first command: the shipped model scores every example image, greedily and identically on
// every run, with reasoning; sampling gives K scores with their spread; a broken image and an image-free
// folder get their documented exit statuses.
TEST(DefaultModel, ScoresTheExamplesDeterministically) {
  const fs::path examples = fs::path(HAWKEYE_SOURCE_DIR) / "examples";
  const std::string cli = std::string("'") + HAWKEYE_CLI + "' --threads 2 --quiet score ";
  const auto a = hawkeye::test::run_command(cli + "'" + examples.string() + "' 2>&1");
  ASSERT_EQ(a.status, 0) << a.output;
  const auto b = hawkeye::test::run_command(cli + "'" + examples.string() + "' 2>&1");
  ASSERT_EQ(b.status, 0) << b.output;
  const std::vector<json> lines = hawkeye::test::jsonl_lines(a.output);
  ASSERT_EQ(lines.size(), 9u) << a.output;  // the run record + 8 images (examples/README.md is not an image)
  EXPECT_EQ(lines[0]["model"], "hawkeye-tiny");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["status"], "ok") << lines[i].dump();
    const double s = lines[i]["score"].get<double>();
    EXPECT_GE(s, 1.0);
    EXPECT_LE(s, 5.0);
    EXPECT_FALSE(lines[i]["reasoning"].get<std::string>().empty());
  }
  // Greedy: the same records, byte for byte, apart from the run record's timing-free fields.
  std::istringstream in_b(b.output);
  std::vector<std::string> second;
  for (std::string line; std::getline(in_b, line);) second.push_back(line);
  std::istringstream in_a(a.output);
  std::vector<std::string> first;
  for (std::string line; std::getline(in_a, line);) first.push_back(line);
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t i = 1; i < first.size(); ++i) EXPECT_EQ(first[i], second[i]);

  const auto k = hawkeye::test::run_command(cli + "--samples 4 '" + (examples / "parrots-pristine.png").string() + "' 2>&1");
  ASSERT_EQ(k.status, 0) << k.output;
  const auto k_lines = hawkeye::test::jsonl_lines(k.output);
  ASSERT_EQ(k_lines.size(), 2u) << k.output;
  const json& rec = k_lines[1];
  EXPECT_EQ(rec["samples"].size(), 4u);
  EXPECT_GE(rec["std"].get<double>(), 0.0);

  hawkeye::test::TempDir dir;
  {
    std::ofstream broken(dir.path() / "broken.png", std::ios::binary);
    broken << "\x89PNG\r\n\x1a\n not really";
  }
  std::filesystem::copy_file(examples / "plane-pristine.png", dir.path() / "ok.png");
  EXPECT_EQ(hawkeye::test::run_command(cli + "'" + dir.path().string() + "' >/dev/null 2>&1").status, 12);
  hawkeye::test::TempDir empty;
  EXPECT_EQ(hawkeye::test::run_command(cli + "'" + empty.path().string() + "' >/dev/null 2>&1").status, 3);
}
