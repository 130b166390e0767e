// The local launcher with /bin/sh as the worker program: the torchrun variables reach every worker, output is
// forwarded line by line per rank, a failing worker stops the others (named, with its status), a worker that
// ignores SIGINT is killed after the grace period, and temporary files of failed workers are removed.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <mutex>

#include "hawkeye/core/error.h"
#include "hawkeye/dist/launcher.h"
#include "test_util.h"

using namespace hawkeye;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

struct Captured {
  std::vector<std::string> lines[2];  // stdout, stderr (each "rank: text")
};

dist::LaunchOptions shell(const std::string& script, int nproc, Captured& cap) {
  dist::LaunchOptions o;
  o.program = "/bin/sh";
  o.args = {"-c", script};
  o.nproc = nproc;
  o.store_timeout = 10s;
  o.on_line = [&cap](int rank, int stream, std::string_view line) {
    cap.lines[stream - 1].push_back(std::to_string(rank) + ": " + std::string(line));
  };
  return o;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

TEST(DistLauncher, WorkersGetTheTorchrunVariablesAndTheirOutputIsForwardedPerRank) {
  Captured cap;
  auto o = shell("echo \"$RANK/$WORLD_SIZE/$LOCAL_RANK/$LOCAL_WORLD_SIZE/$MASTER_ADDR/$TORCHELASTIC_USE_AGENT_STORE/$EXTRA\"; "
                 "echo \"port=$MASTER_PORT\" >&2; printf 'no newline'",
                 3, cap);
  o.env["EXTRA"] = "x";
  const auto r = dist::launch_local(o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.failed_rank, -1);
  EXPECT_TRUE(r.message.empty());
  EXPECT_EQ(r.statuses, (std::vector<int>{0, 0, 0}));
  for (int k = 0; k < 3; ++k) {
    const auto rank = std::to_string(k);
    EXPECT_TRUE(contains(cap.lines[0], rank + ": " + rank + "/3/" + rank + "/3/127.0.0.1/True/x")) << rank;
    EXPECT_TRUE(contains(cap.lines[0], rank + ": no newline")) << rank;  // an unfinished last line is not lost
  }
  // every worker was told the same port, the one of the store the launcher hosts
  ASSERT_EQ(cap.lines[1].size(), 3u);
  const auto port = cap.lines[1][0].substr(cap.lines[1][0].find("port="));
  EXPECT_NE(port, "port=");
  for (const auto& l : cap.lines[1]) EXPECT_EQ(l.substr(l.find("port=")), port);
}

TEST(DistLauncher, AFailingWorkerStopsTheOthersAndIsNamed) {
  Captured cap;
  const auto t0 = Clock::now();
  const auto r = dist::launch_local(shell("if [ \"$RANK\" = 1 ]; then echo bad config >&2; exit 3; fi; exec sleep 60", 3, cap));
  EXPECT_LT(seconds_since(t0), 10.0);  // ranks 0 and 2 did not sleep their 60 s
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.failed_rank, 1);
  EXPECT_EQ(r.message.rfind("rank 1 (pid ", 0), 0u) << r.message;
  EXPECT_NE(r.message.find(") exited with status 3; the other ranks were stopped"), std::string::npos) << r.message;
  EXPECT_EQ(r.statuses[0], 128 + SIGINT);
  EXPECT_EQ(r.statuses[2], 128 + SIGINT);
  EXPECT_TRUE(contains(cap.lines[1], "1: bad config"));
}

TEST(DistLauncher, AWorkerKilledByASignalGivesTheDistributedStatus) {
  Captured cap;
  const auto r = dist::launch_local(shell("if [ \"$RANK\" = 0 ]; then kill -9 $$; fi; exec sleep 60", 2, cap));
  EXPECT_EQ(r.failed_rank, 0);
  EXPECT_EQ(r.exit_code, exit_status(ErrorCode::distributed));
  EXPECT_NE(r.message.find("was killed by signal 9"), std::string::npos) << r.message;
}

TEST(DistLauncher, AWorkerIgnoringSigintIsKilledAfterTheGrace) {
  Captured cap;
  test::TempDir dir;
  // Rank 1 fails only once rank 0 has installed its SIGINT trap (on a loaded machine the interrupt could
  // otherwise arrive before the trap, and rank 0 would die of it: 130 instead of 137).
  const std::string ready = "'" + (dir.path() / "trapped").string() + "'";
  auto o = shell("trap '' INT; if [ \"$RANK\" = 1 ]; then while [ ! -e " + ready + " ]; do sleep 0.02; done; exit 4; fi; touch " +
                     ready + "; exec sleep 60",
                 2, cap);
  o.grace = 500ms;
  const auto t0 = Clock::now();
  const auto r = dist::launch_local(o);
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.statuses[0], 128 + SIGKILL);
}

TEST(DistLauncher, TemporaryFilesOfFailedWorkersAreRemoved) {
  test::TempDir dir;
  Captured cap;
  const auto d = dir.path().string();
  // Rank 1 leaves a half-written file and a staging folder behind and fails; rank 0 finishes cleanly. Rank 1
  // fails only once rank 0's file is there (under load rank 0 could otherwise still be starting when the
  // launcher stops it because rank 1 failed).
  auto o = shell("if [ \"$RANK\" = 1 ]; then i=0; while [ ! -e '" + d + "/final.txt' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
                 "mkdir '" + d + "/step-1.tmp-'$$'-0'; echo half > '" + d + "/metrics.tmp-'$$'-1'; exit 5; fi; "
                 "echo done > '" + d + "/final.txt'",
                 2, cap);
  std::ofstream(dir.path() / "other.tmp-1-0") << "not ours";
  o.cleanup_dirs = {dir.path()};
  const auto r = dist::launch_local(o);
  EXPECT_EQ(r.exit_code, 5);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"final.txt", "other.tmp-1-0"}));
}

TEST(DistLauncher, AProgramThatCannotRunIsReported) {
  Captured cap;
  auto o = shell("", 2, cap);
  o.program = "/nonexistent/hawkeye";
  const auto r = dist::launch_local(o);
  EXPECT_EQ(r.exit_code, 127);
  ASSERT_FALSE(cap.lines[1].empty());
  EXPECT_NE(cap.lines[1][0].find("cannot execute /nonexistent/hawkeye: errno 2"), std::string::npos) << cap.lines[1][0];
  EXPECT_THROW(dist::launch_local(shell("true", 0, cap)), Error);
}

TEST(DistLauncher, AForwardedInterruptReachesEveryWorkerAndIsNotAFailure) {
  Captured cap;
  auto o = shell("echo started; exec sleep 60", 2, cap);
  std::atomic<int> sig{0};
  o.forward_signal = &sig;
  std::mutex m;
  int started = 0;
  o.on_line = [&](int, int, std::string_view line) {
    if (line == "started") {
      std::lock_guard<std::mutex> lock(m);
      if (++started == 2) sig = SIGINT;  // as the CLI's handler does on Ctrl-C
    }
  };
  const auto t0 = Clock::now();
  const auto r = dist::launch_local(o);
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_EQ(r.failed_rank, -1);
  EXPECT_EQ(r.exit_code, exit_status(ErrorCode::interrupted));
  EXPECT_EQ(r.statuses, (std::vector<int>{128 + SIGINT, 128 + SIGINT}));
}
