// `hawkeye eval` through the built binary: outputs, --resume, --max-images and exit statuses.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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
  // Issue 19: 3 images are too few for the 4-parameter logistic. The fitted statistics are null with the
  // reason, and the summary says "fit failed" instead of printing the raw PLCC as the fitted one.
  test::TempDir out3;
  const auto three = cli("eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out3.path()) +
                         " --max-images 3");
  ASSERT_EQ(three.status, 0) << three.output;
  EXPECT_NE(three.output.find("(fit failed)"), std::string::npos) << three.output;
  EXPECT_EQ(three.output.find("(fitted"), std::string::npos) << three.output;
  const auto report = nlohmann::json::parse(read_file(out3.path() / "report.json"));
  EXPECT_TRUE(report["plcc_fitted"].is_null()) << report.dump();
  EXPECT_NE(report["reasons"]["plcc_fitted"].get<std::string>().find("logistic fit failed"), std::string::npos);
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
// The first Ctrl-C stops after the current batch: the predictions so far stay, a partial report is written, the
// exit status is 130 and --resume finishes the rest without scoring them again (cli.h, StopOnSignal).
TEST(EvalCli, CtrlCStopsCleanlyAndResumeFinishes) {
  REQUIRE_CLI();
  test::TempDir tmp;
  const auto data = test::write_grey_manifest(tmp.path() / "data", 2000);  // long enough for a fast machine
  const auto out = tmp.path() / "out";
  const std::vector<std::string> args = {HAWKEYE_CLI, "-q", "--threads", "1", "eval", "--model", world().model.string(),
                                         "--data", data.string(), "--out", out.string(), "--batch", "1"};
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto predictions = out / "predictions.jsonl";
  const auto lines = [&] { return fs::exists(predictions) ? test::jsonl_lines(read_file(predictions)).size() : 0u; };
  test::poll_until([&] { return lines() >= 3; }, 120, std::chrono::milliseconds(2));
  ASSERT_GE(lines(), 3u) << "the evaluation did not start";
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal: " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), exit_status(ErrorCode::interrupted));
  const auto report = nlohmann::json::parse(read_file(out / "report.json"));
  EXPECT_FALSE(report["complete"].get<bool>());
  const std::size_t kept = lines() - 1;  // the run line
  ASSERT_LT(kept, 2000u) << "the run ended before the signal: make the manifest longer";
  EXPECT_FALSE(fs::exists(out / ".lock"));
  const auto resumed = cli("eval --model " + q(world().model) + " --data " + q(data) + " --out " + q(out) + " --resume --json");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  const auto j = nlohmann::json::parse(resumed.output);
  EXPECT_EQ(j["timing"]["resumed_rows"], kept);
  EXPECT_EQ(j["timing"]["images_this_run"], 2000 - kept);
  EXPECT_EQ(j["n"], 2000);
}

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

// Issue 18: `eval --resume` with another model of the same id mixed 100 rows of the old model into a report
// naming the new one. The run line names the model's content hash; a resume checks it (a copy of the same model
// elsewhere still resumes).
TEST(EvalCli, ResumeWithAnotherModelOfTheSameIdIsRefused) {
  REQUIRE_CLI();
  test::TempDir tmp;
  const auto other = tmp.path() / "other", copy = tmp.path() / "copy", out = tmp.path() / "out";
  test::write_answering_model(other, test::AnswerMode::no_answer, "answering-test");  // same id, other weights
  fs::copy(world().model, copy, fs::copy_options::recursive);
  const std::string data = " --data " + q(world().data) + " --out " + q(out);
  ASSERT_EQ(cli("eval --max-images 4 --model " + q(world().model) + data).status, 0);
  const auto header = test::jsonl_lines(read_file(out / "predictions.jsonl"))[0];
  EXPECT_EQ(header["model_hash"].get<std::string>().rfind("fnv64-", 0), 0u) << header.dump();
  const auto refused = cli("eval --resume --model " + q(other) + data, true);
  EXPECT_EQ(refused.status, exit_status(ErrorCode::invalid_argument)) << refused.output;
  EXPECT_NE(refused.output.find("cannot resume: it was written with model_hash"), std::string::npos) << refused.output;
  EXPECT_EQ(test::jsonl_lines(read_file(out / "predictions.jsonl")).size(), 5u);
  const auto resumed = cli("eval --resume --json --model " + q(copy) + data);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(nlohmann::json::parse(resumed.output)["timing"]["resumed_rows"], 4);
}

// Issue 18: a file name that is not UTF-8 became U+FFFD in the predictions, so every --resume scored it again
// and appended a duplicate. Its record keeps the exact bytes ("image_escaped"), and resume finds it.
TEST(EvalCli, ResumeFindsImagesWhoseNamesAreNotUtf8) {
  REQUIRE_CLI();
  test::TempDir tmp;
  const auto d = tmp.path();
  fs::create_directories(d / "images");
  const std::string latin1 = "caf\xe9 \\ 1.png";  // Latin-1 e-acute, and a backslash
  save_image(d / "images" / "a.png", test::grey_image(40, 32, 30, 1));
  save_image(d / "images" / latin1, test::grey_image(40, 32, 140, 2));
  save_image(d / "images" / "c.png", test::grey_image(40, 32, 240, 3));
  write_file_atomic(d / "m.csv", "name,mos\nimages/a.png,10\nimages/" + latin1 + ",50\nimages/c.png,90\n");
  write_file_atomic(d / "m.csv.meta.json", R"({"score_range": [0, 100], "higher_better": true})");
  const std::string args = "eval --model " + q(world().model) + " --data " + q(d / "m.csv") + " --out " + q(d / "out");
  ASSERT_EQ(cli(args).status, 0);
  const auto lines = test::jsonl_lines(read_file(d / "out" / "predictions.jsonl"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2]["image_escaped"], "images/caf\\xe9 \\\\ 1.png") << lines[2].dump();
  EXPECT_EQ(lines[2]["status"], "ok");
  EXPECT_FALSE(lines[1].contains("image_escaped"));
  for (int run = 0; run < 2; ++run) {
    const auto resumed = cli(args + " --resume --json");
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    const auto j = nlohmann::json::parse(resumed.output);
    EXPECT_EQ(j["timing"]["images_this_run"], 0);
    EXPECT_EQ(j["timing"]["resumed_rows"], 3);
  }
  EXPECT_EQ(test::jsonl_lines(read_file(d / "out" / "predictions.jsonl")).size(), 4u);
}

// Issue 19 §3: a pyiqa meta_info CSV of a data set hawkeye does not know (no declared scale) evaluates with one
// command: --scale gives the range and direction, --root the folder the image names are relative to.
TEST(EvalCli, ScaleAndRootMakeAnyPyiqaListWork) {
  REQUIRE_CLI();
  test::TempDir t;
  const fs::path images = world().data.parent_path() / "images";
  // NR: pyiqa's "dist_name, mos" (higher is better, 0..100); FR: "ref_name, dist_name, dmos" (lower is better)
  std::string nr = "dist_name,mos\n", fr = "ref_name,dist_name,dmos\n";
  for (int i = 0; i < 9; ++i) {
    const std::string name = "img" + std::to_string(100 + i) + ".png";
    nr += name + "," + std::to_string(10 * i + 5) + "\n";
    fr += "img100.png," + name + "," + std::to_string(90 - 10 * i) + "\n";
  }
  write_file_atomic(t.path() / "mydata_nr.csv", nr);
  write_file_atomic(t.path() / "mydata_fr.csv", fr);
  auto r = cli("eval --model " + q(world().model) + " --data " + q(t.path() / "mydata_nr.csv") + " --out " + q(t.path() / "a"), true);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--scale 0:100:higher"), std::string::npos) << r.output;
  r = cli("eval --model " + q(world().model) + " --data " + q(t.path() / "mydata_nr.csv") + " --scale 0:100:higher --root " +
          q(images) + " --out " + q(t.path() / "nr") + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["n"], 9);
  EXPECT_EQ(j["load_failures"], 0);
  EXPECT_EQ(j["data"]["scale"], "[0, 100], higher is better");
  const double srcc_nr = j["srcc"].get<double>();
  // the same images with lower-is-better scores in the reverse order rank the same way
  r = cli("eval --model " + q(world().model) + " --data " + q(t.path() / "mydata_fr.csv") + " --scale 0:90:lower --root " +
          q(images) + " --out " + q(t.path() / "fr") + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["data"]["form"], "fr");
  EXPECT_NEAR(j["srcc"].get<double>(), srcc_nr, 1e-12);
  for (const std::string bad : {"100:0:higher", "0:100:up", "a:b", "0:100:higher:x"}) {
    r = cli("eval --model " + q(world().model) + " --data " + q(t.path() / "mydata_nr.csv") + " --scale " + bad, true);
    EXPECT_EQ(r.status, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("--scale " + bad), std::string::npos) << r.output;
  }
  r = cli("eval --model " + q(world().model) + " --data " + q(t.path() / "mydata_nr.csv") + " --scale 0:100 --root " +
          q(t.path() / "nowhere"), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::not_found)) << r.output;
}

TEST(EvalCli, FilesInTheOutFolderThatNoEvaluationWroteAreNotReplaced) {
  // Issue "nothing lost" item 1 for eval: report.json and scatter.png are the outputs; without a predictions.jsonl
  // beside them they are somebody else's files.
  REQUIRE_CLI();
  for (const char* name : {"scatter.png", "report.json"}) {
    test::TempDir out;
    write_file_atomic(out.path() / name, "mine");
    const std::string args = "eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out.path());
    for (const std::string& extra : {std::string(), std::string(" --resume")}) {
      const auto r = cli(args + extra, true);
      EXPECT_EQ(r.status, exit_status(ErrorCode::invalid_argument)) << name << extra << ": " << r.output;
      EXPECT_NE(r.output.find(std::string(name) + ": exists and is not the output of an evaluation"), std::string::npos) << r.output;
      EXPECT_EQ(read_file(out.path() / name), "mine");
      EXPECT_FALSE(fs::exists(out.path() / "predictions.jsonl")) << name << extra;
    }
  }
}

TEST(EvalCli, AFailedWriteOfThePredictionsSaysWhy) {
  // Issue "nothing lost" item 12: a streamed write that fails names the file and the system's reason. A file-size
  // limit of 1 KiB with SIGXFSZ ignored makes write(2) fail with EFBIG part way through predictions.jsonl.
  REQUIRE_CLI();
  test::TempDir out;
  const auto r = test::run_command("trap '' XFSZ; ulimit -f 1; '" + std::string(HAWKEYE_CLI) + "' -q --threads 1 eval --model " +
                                   q(world().model) + " --data " + q(world().data) + " --out " + q(out.path()) + " 2>&1");
  EXPECT_EQ(r.status, exit_status(ErrorCode::io)) << r.output;
  EXPECT_NE(r.output.find("predictions.jsonl: write failed: File too large"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out.path() / "report.json")) << "no report from a failed run";
}

// --readout head with a model that has no auxiliary head: exit 2 before the output folder is made (a rerun with
// the same --out works); --readout head with --samples likewise.
TEST(EvalCli, AReadoutTheModelCannotGiveIsRefusedBeforeAnyOutput) {
  REQUIRE_CLI();
  test::TempDir a;
  const fs::path out = a.path() / "eval";
  const auto head = cli("eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out) + " --readout head", true);
  EXPECT_EQ(head.status, exit_status(ErrorCode::invalid_argument)) << head.output;
  EXPECT_NE(head.output.find("auxiliary quality head"), std::string::npos) << head.output;
  EXPECT_FALSE(fs::exists(out));
  const auto sampled = cli("eval --model " + q(world().model) + " --data " + q(world().data) + " --out " + q(out) +
                           " --readout expected --samples 2", true);
  EXPECT_EQ(sampled.status, exit_status(ErrorCode::invalid_argument)) << sampled.output;
  EXPECT_FALSE(fs::exists(out));
  const auto score = cli("score --model " + q(world().model) + " --readout head --out " + q(a.path() / "s.jsonl") + " " +
                         q(world().tmp.path() / "clean" / "images"), true);
  EXPECT_EQ(score.status, exit_status(ErrorCode::invalid_argument)) << score.output;
  EXPECT_FALSE(fs::exists(a.path() / "s.jsonl"));
}
