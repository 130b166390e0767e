// `hawkeye eval` through the built binary: outputs, --resume, --max-images and exit statuses.
#include <gtest/gtest.h>

#include "eval_test_data.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/lock.h"

using namespace hawkeye;
using test::cli;
using test::q;

namespace {

struct EvalCliWorld {
  test::TempDir tmp;
  fs::path model = tmp.path() / "answering";
  fs::path mute = tmp.path() / "mute";
  fs::path data, data_missing;
  EvalCliWorld() {
    test::write_answering_model(model);
    test::write_answering_model(mute, test::AnswerMode::no_answer, "mute-test");
    data = test::write_grey_manifest(tmp.path() / "clean", 9);
    data_missing = test::write_grey_manifest(tmp.path() / "missing", 6, true);
  }
};

EvalCliWorld& world() {
  static EvalCliWorld w;
  return w;
}

}  // namespace

TEST(EvalCli, WritesReportScatterAndPredictionsThenResumesWithoutRescoring) {
  REQUIRE_CLI();
  test::TempDir out;
  const std::string args = "eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out.path());
  const auto r = cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("SRCC"), std::string::npos) << r.output;
  const auto report = nlohmann::json::parse(read_file(out.path() / "report.json"));
  EXPECT_EQ(report["n"], 9);
  EXPECT_EQ(report["model"]["id"], "answering-test");
  EXPECT_EQ(report["per_type"].size(), 3u);
  EXPECT_GT(report["timing"]["model_load_seconds"].get<double>(), 0.0);
  EXPECT_EQ(test::png_size(read_file(out.path() / "scatter.png")), std::make_pair(960, 640));
  EXPECT_EQ(test::jsonl_lines(read_file(out.path() / "predictions.jsonl")).size(), 10u);

  // The same --out again needs --resume; with it nothing is scored twice and the numbers stay.
  const auto again = cli(args, true);
  EXPECT_EQ(again.status, exit_status(ErrorCode::invalid_argument)) << again.output;
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;
  const auto resumed = cli(args + " --resume --json");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  const auto j = nlohmann::json::parse(resumed.output);
  EXPECT_EQ(j["timing"]["images_this_run"], 0);
  EXPECT_EQ(j["timing"]["resumed_rows"], 9);
  EXPECT_EQ(j["srcc"], report["srcc"]);
  EXPECT_EQ(j["plcc_fitted"], report["plcc_fitted"]);
}

TEST(EvalCli, MaxImagesAndPlotSize) {
  REQUIRE_CLI();
  test::TempDir out;
  const auto r = cli("eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out.path()) +
                     " --max-images 4 --plot-size 640x480 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["data"]["rows"], 9);
  EXPECT_EQ(j["data"]["evaluated_rows"], 4);
  EXPECT_EQ(j["n"], 4);
  EXPECT_EQ(test::png_size(read_file(out.path() / "scatter.png")), std::make_pair(640, 480));
}

TEST(EvalCli, MissingImagesExit12AndAModelThatNeverAnswersExits13) {
  REQUIRE_CLI();
  test::TempDir a, b;
  const auto missing = cli("eval --model " + q(world().model) + " --data " + q(world().data_missing) + " --out " + q(a.path()));
  EXPECT_EQ(missing.status, kExitSomeInputsFailed) << missing.output;
  const auto report = nlohmann::json::parse(read_file(a.path() / "report.json"));
  EXPECT_EQ(report["load_failures"], 1);
  EXPECT_EQ(report["n"], 6);
  const auto mute = cli("eval --model " + q(world().mute) + " --data " + q(world().data) + " --out " + q(b.path()));
  EXPECT_EQ(mute.status, kExitNothingParsed) << mute.output;
  EXPECT_TRUE(nlohmann::json::parse(read_file(b.path() / "report.json"))["srcc"].is_null());
}

TEST(EvalCli, MissingManifestIsNotFound) {
  REQUIRE_CLI();
  const auto r = cli("eval --model " + q(world().model) + " --data " + q(world().tmp.path() / "nope.jsonl"), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::not_found)) << r.output;
}

// Two `eval --resume` on one --out appended duplicate rows: the second now exits 14 naming the first's PID,
// and the predictions stay as they were. A finished evaluation leaves no lock file behind.
TEST(EvalCli, OutFolderInUseByAnotherProcessExits14) {
  REQUIRE_CLI();
  test::TempDir out;
  const std::string args = "eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out.path());
  ASSERT_EQ(cli(args).status, 0);
  EXPECT_FALSE(fs::exists(out.path() / ".lock"));
  const auto before = read_file(out.path() / "predictions.jsonl");
  {
    const PathLock held = lock_directory(out.path(), "evaluation folder");  // as a running `hawkeye eval` holds it
    const auto r = cli(args + " --resume", true);
    EXPECT_EQ(r.status, 14) << r.output;
    EXPECT_NE(r.output.find("evaluation folder " + out.path().string() + " is in use by PID " + std::to_string(::getpid())),
              std::string::npos)
        << r.output;
  }
  EXPECT_EQ(read_file(out.path() / "predictions.jsonl"), before);
  EXPECT_EQ(cli(args + " --resume").status, 0);
}
