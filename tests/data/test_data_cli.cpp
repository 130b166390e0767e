// The data commands end to end through the built binary: hawkeye synth, pairs, degrade (exit statuses and
// messages on bad input). Skipped when the CLI is not built (torch-free builds).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hawkeye/core/fs.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/image/io.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

std::string cli() { return HAWKEYE_CLI; }
test::CommandResult run(const std::string& args) { return test::run_command("'" + cli() + "' " + args + " 2>&1"); }
std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

#define REQUIRE_CLI()                                                                \
  if (cli().empty() || !std::filesystem::exists(cli())) GTEST_SKIP() << "hawkeye CLI not built"

}  // namespace

TEST(DataCliSlow, SynthPairsAndDegradeAgree) {
  REQUIRE_CLI();
  test::TempDir dir;
  const auto out = dir.path() / "set";
  auto r = run("--threads 2 -q synth --refs " + q(test::fixtures() / "kodak" / "kodim03.png") + " " +
               q(test::fixtures() / "wikipedia" / "010.png") + " --out " + q(out) +
               " --size 96x72 --types 1,jpeg,color_block --levels 1,5 --split train=0.5,test=0.5 --seed 3 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["images"], 2 * 3 * 2);
  EXPECT_EQ(j["references"], 2);
  // degrade reproduces a synth image from the stored reference with the same seed and id.
  r = run("--seed 3 degrade " + q(out / "references" / "kodim03.png") + " --type color_block --level 5 --out " +
          q(dir.path() / "d.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_image(dir.path() / "d.png"), load_image(out / "images" / "kodim03_23_5.png"));
  r = run("degrade " + q(out / "references" / "kodim03.png") + " --type qh-darken --level 2 --out " + q(dir.path() / "e.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  // pairs on the training manifest.
  const std::string split = read_manifest(out / "train.jsonl").rows.front().split;
  EXPECT_EQ(split, "train");
  r = run("--threads 2 -q pairs --data " + q(out / "train.jsonl") + " --out " + q(dir.path() / "pairs") + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const Manifest pairs = read_manifest(dir.path() / "pairs" / "train.pairs.jsonl");
  for (const auto& row : pairs.rows) {
    EXPECT_EQ(load_image(pairs.root / extra_text(row, "twin")).width, 96);
    EXPECT_TRUE(std::filesystem::exists(pairs.image_path(row))) << pairs.image_path(row);
  }
}

TEST(DataCliSlow, BadInputGetsClearErrorsAndExitStatuses) {
  REQUIRE_CLI();
  test::TempDir dir;
  const std::string ref = q(test::fixtures() / "kodak" / "kodim03.png");
  auto r = run("degrade " + ref + " --type blurry --level 1 --out " + q(dir.path() / "x.png"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown KADID distortion 'blurry'"), std::string::npos) << r.output;
  r = run("degrade " + ref + " --type jpeg --level 9 --out " + q(dir.path() / "x.png"));
  EXPECT_EQ(r.status, 2) << r.output;
  r = run("degrade " + ref + " --type qh-noise --level 3 --out " + q(dir.path() / "x.png"));
  EXPECT_EQ(r.status, 2) << r.output;
  r = run("degrade " + q(dir.path() / "missing.png") + " --type jpeg --level 1 --out " + q(dir.path() / "x.png"));
  EXPECT_EQ(r.status, 3) << r.output;
  r = run("synth --refs " + q(dir.path() / "no-such-dir") + " --out " + q(dir.path() / "o"));
  EXPECT_EQ(r.status, 3) << r.output;
  r = run("synth --refs " + ref + " --out " + q(dir.path() / "o") + " --size 96x");
  EXPECT_EQ(r.status, 2) << r.output;
  r = run("synth --refs " + ref + " --out " + q(dir.path() / "o") + " --split train=0.9,test=0.2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("sum to"), std::string::npos) << r.output;
  // --jpeg2000 takes a coder name, for synth and degrade alike, checked before anything is written.
  r = run("synth --refs " + ref + " --out " + q(dir.path() / "j") + " --jpeg2000 9-7");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown JPEG 2000 coder '9-7'"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "j" / "synth.json"));
  r = run("degrade " + ref + " --type qh-blur --level 1 --jpeg2000 both97 --out " + q(dir.path() / "j.png"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "j.png"));
  write_file_atomic(dir.path() / "bad.csv", "name,mos\na.png,1\nb.png,oops\n");
  write_file_atomic(dir.path() / "bad.csv.meta.json", R"({"score_range": [1, 5], "higher_better": true})");
  r = run("pairs --data " + q(dir.path() / "bad.csv") + " --out " + q(dir.path() / "p"));
  EXPECT_EQ(r.status, 8) << r.output;
  EXPECT_NE(r.output.find("bad.csv:3: score 'oops'"), std::string::npos) << r.output;
}
