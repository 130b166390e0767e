// Multi-process training through the CLI on 127.0.0.1 (the hawkeye binary of this build):
//  - 2 processes x B/2 train like 1 process x B (parameters within 1e-5 after 5 steps), for SFT and GRPO (GRPO
//    also with a different grad_accum: its perception KL is pooled per image);
//  - a checkpoint written by 2 processes resumes in 1 process (and the other way round) to the same weights;
//  - a killed, stopped (hung) or vanished rank makes the others exit non-zero within the timeout, naming it;
//  - `--nproc 2` with a killed worker stops the run, names the rank and leaves no temporary files.
//
// What "like 1 process x B" means exactly: the trainer cuts every global batch of B rows into micro-batches of
// B / (world x grad_accum) rows and averages the per-micro-batch losses (each a token or sequence mean). So N
// processes with grad_accum A compute exactly what 1 process with grad_accum N*A computes (same rows, same
// augmentation and rollout seeds, same BatchNorm batch statistics), which is what these tests compare.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/checkpoint.h"
#include "rl/trainer_fixtures.h"

extern char** environ;

using namespace hawkeye;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::string cli() { return HAWKEYE_CLI; }

#define REQUIRE_CLI()                                                                              \
  do {                                                                                             \
    if (cli().empty() || !fs::exists(cli())) GTEST_SKIP() << "the hawkeye binary is not built"; \
  } while (0)

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Largest |a - b| over the parameters of two model directories (BatchNorm running statistics are buffers, not
// parameters: with N processes they are averaged across ranks, with one process updated in sequence).
double max_parameter_diff(const fs::path& a, const fs::path& b) {
  const auto sa = SafetensorsSet::open(a), sb = SafetensorsSet::open(b);
  double worst = 0;
  std::size_t compared = 0;
  for (const auto& n : sa.names()) {
    if (n.find("running_") != std::string::npos || n.find("num_batches_tracked") != std::string::npos) continue;
    const auto* eb = sb.find(n);
    if (!eb) return 1e9;
    const auto ta = model::tensor_from_entry(*sa.find(n), torch::kFloat64), tb = model::tensor_from_entry(*eb, torch::kFloat64);
    worst = std::max(worst, (ta - tb).abs().max().item<double>());
    ++compared;
  }
  return compared > 10 ? worst : 1e9;
}

struct Run {
  fs::path dir;
  int status = -1;
  std::string output;
};

// hawkeye <kind> --config <config> run.dir=<dir> train.grad_accum=<accum> [--nproc N] [--resume R] --threads 1
Run train_cli(const std::string& kind, const fs::path& config, const fs::path& dir, int accum, int nproc, const fs::path& resume = {},
              const std::string& extra = "") {
  std::string cmd = cli() + " " + kind + " --config '" + config.string() + "' --threads 1 --json -q";
  if (nproc > 1) cmd += " --nproc " + std::to_string(nproc);
  if (!resume.empty()) cmd += " --resume '" + resume.string() + "'";
  cmd += " run.dir='" + dir.string() + "' train.grad_accum=" + std::to_string(accum) + " " + extra + " 2>&1";
  const auto r = test::run_command(cmd);
  return {dir, r.status, r.output};
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// A process with extra environment variables, stdout and stderr into `log`.
struct Proc {
  pid_t pid = -1;
  fs::path log;
  int status = -1;  // exit status, 128 + signal
  double seconds = 0;
};

Proc spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env, const fs::path& log) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) all[k] = v;
  std::vector<std::string> env_text;
  for (const auto& [k, v] : all) env_text.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_text) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_copy = args;
  for (auto& a : args_copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  Proc p;
  p.log = log;
  if (posix_spawn(&p.pid, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) p.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return p;
}

// Waits up to `limit` seconds; a process still running then is killed (status -2).
void wait_for(Proc& p, double limit) {
  const auto t0 = Clock::now();
  for (;;) {
    int st = 0;
    if (::waitpid(p.pid, &st, WNOHANG) == p.pid) {
      p.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      p.seconds = seconds_since(t0);
      return;
    }
    if (seconds_since(t0) > limit) {
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &st, 0);
      p.status = -2;
      p.seconds = seconds_since(t0);
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits until `pred` holds (checked every 50 ms) or `limit` seconds pass.
bool eventually(const std::function<bool()>& pred, double limit) { return test::poll_until(pred, limit, 50ms); }

std::size_t metric_lines(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::vector<std::string> temporaries(const fs::path& run) {
  std::vector<std::string> out;
  for (const auto& dir : {run, run / "checkpoints"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

// A long SFT run (it is killed long before its end) with a short distributed timeout.
fs::path long_sft_config(const test::TinyTrainingSetup& s, double timeout_s, int checkpoint_every) {
  const auto path = s.dir.path() / "long.toml";
  std::ofstream(path) << s.model_toml() << "[run]\nseed = 1\nlog_every = 1\ndist_timeout_s = " << timeout_s
                      << "\n[train]\nsteps = 100000\nbatch_size = 4\nlr = 1e-3\nval_every = 0\ncheckpoint_every = " << checkpoint_every
                      << "\nkeep_last = 2\n";
  return path;
}

// Two ranks started the way an external launcher starts them (rank 0 hosts the store) on a long SFT run with a
// timeout of `timeout_s`. Once both train, `victim` gets `sig`; returns the other rank (waited for up to 60 s) and
// its log. The port is free when chosen but may be taken by a parallel test before rank 0 binds it: then again
// with another (up to 3 tries).
struct Outcome {
  Proc survivor;
  std::string log;
};
Outcome external_ranks_with_a_victim(int victim, int sig, double timeout_s) {
  for (int attempt = 0;; ++attempt) {
    test::TinyTrainingSetup s(false);
    const auto run = s.dir.path() / "run";
    const auto config = long_sft_config(s, timeout_s, 0);
    const auto port = std::to_string(free_port());
    Proc rank[2];
    for (int r = 0; r < 2; ++r) {
      rank[r] = spawn({cli(), "sft", "--config", config.string(), "--threads", "1", "run.dir=" + run.string()},
                      {{"RANK", std::to_string(r)}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", std::to_string(r)}, {"LOCAL_WORLD_SIZE", "2"},
                       {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}},
                      s.dir.path() / ("rank" + std::to_string(r) + ".log"));
    }
    Outcome out;
    const bool started = eventually([&] {
      return metric_lines(run) >= 2 || slurp(rank[0].log).find("cannot host the rendezvous store") != std::string::npos;
    }, 180) && metric_lines(run) >= 2;
    if (!started && attempt < 2 && slurp(rank[0].log).find("cannot host the rendezvous store") != std::string::npos) {
      for (auto& r : rank) {
        ::kill(r.pid, SIGKILL);
        wait_for(r, 10);
      }
      continue;  // the port was taken meanwhile
    }
    if (started) ::kill(rank[victim].pid, sig);
    out.survivor = rank[1 - victim];
    wait_for(out.survivor, started ? 60 : 0);
    ::kill(rank[victim].pid, SIGKILL);  // a stopped victim is killed now; a killed one is reaped
    wait_for(rank[victim], 5);
    out.log = started ? slurp(out.survivor.log) : "training did not start: " + slurp(rank[0].log);
    return out;
  }
}

}  // namespace

TEST(DistTrainingSlow, SftTwoProcessesEqualOneAndCheckpointsResumeAcrossWorldSizes) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "sft.toml";
  // BatchNorm in the vision encoder is on (the default): batch statistics are per micro-batch either way.
  std::ofstream(config) << s.model_toml()
                        << "[run]\nseed = 4\nlog_every = 1\ndist_timeout_s = 60\n"
                           "[train]\nsteps = 5\nbatch_size = 4\nlr = 3e-3\nwarmup_steps = 2\nval_every = 5\ncheckpoint_every = 2\n"
                           "keep_last = 5\n[augment]\ncrop = [48, 32]\nhflip = true\n";
  const auto d = s.dir.path();
  const auto one = train_cli("sft", config, d / "one", 2, 1);  // 1 process x B = 4 (2 micro-batches of 2)
  ASSERT_EQ(one.status, 0) << one.output;
  const auto two = train_cli("sft", config, d / "two", 1, 2);  // 2 processes x B/2 = 2
  ASSERT_EQ(two.status, 0) << two.output;
  const auto summary = nlohmann::json::parse(two.output);  // only rank 0 prints, unprefixed
  EXPECT_EQ(summary["steps"], 5);

  const double diff = max_parameter_diff(d / "one" / "final", d / "two" / "final");
  std::cout << "SFT: max |parameter difference|, 1 process x 4 vs 2 processes x 2, after 5 steps: " << diff << "\n";
  EXPECT_LT(diff, 1e-5);
  // the logs agree too: the loss is the mean over ranks, validation is summed over the ranks' shares
  const auto m1 = test::read_metrics(d / "one"), m2 = test::read_metrics(d / "two");
  ASSERT_EQ(m1.size(), m2.size());
  for (std::size_t i = 0; i < m1.size(); ++i) {
    if (m1[i].contains("kind")) {
      for (const char* key : {"n", "parse_failures", "srcc", "plcc", "rmse"}) {
        if (m1[i][key].is_number()) EXPECT_NEAR(m2[i][key].get<double>(), m1[i][key].get<double>(), 1e-6) << key;
        else EXPECT_EQ(m2[i][key], m1[i][key]) << key;
      }
      continue;
    }
    EXPECT_NEAR(m2[i]["loss"].get<double>(), m1[i]["loss"].get<double>(), 1e-5) << "step " << m1[i]["step"];
    EXPECT_EQ(m2[i]["tokens"], m1[i]["tokens"]);
    EXPECT_TRUE(m2[i].contains("time_allreduce"));
    EXPECT_FALSE(m1[i].contains("time_allreduce"));
  }

  // A 2-process checkpoint (step 2) resumed by 1 process, and a 1-process checkpoint resumed by 2 processes.
  const auto a = train_cli("sft", config, d / "two-then-one", 2, 1, rl::checkpoint_dir(d / "two", 2));
  ASSERT_EQ(a.status, 0) << a.output;
  const auto b = train_cli("sft", config, d / "one-then-two", 1, 2, rl::checkpoint_dir(d / "one", 2));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_LT(max_parameter_diff(d / "two-then-one" / "final", d / "one" / "final"), 1e-5);
  EXPECT_LT(max_parameter_diff(d / "one-then-two" / "final", d / "two" / "final"), 1e-5);
}

TEST(DistTrainingSlow, GrpoTwoProcessesEqualOne) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(true);
  const auto config = s.dir.path() / "grpo.toml";
  std::ofstream(config) << s.model_toml()
                        << "[run]\nseed = 9\nlog_every = 1\ndist_timeout_s = 60\n"
                           "[train]\nsteps = 5\nbatch_size = 4\nlr = 1e-3\nwarmup_steps = 1\nval_every = 0\ncheckpoint_every = 2\n"
                           "keep_last = 5\n[rollout]\nk = 3\nmax_new_tokens = 12\n[loss]\ngamma0 = 0.01\n";
  const auto d = s.dir.path();
  const auto one = train_cli("train", config, d / "one", 2, 1);
  ASSERT_EQ(one.status, 0) << one.output;
  const auto two = train_cli("train", config, d / "two", 1, 2);
  ASSERT_EQ(two.status, 0) << two.output;
  const double diff = max_parameter_diff(d / "one" / "final", d / "two" / "final");
  std::cout << "GRPO: max |parameter difference|, 1 process x 4 vs 2 processes x 2, after 5 steps: " << diff << "\n";
  EXPECT_LT(diff, 1e-5);
  const auto m1 = test::read_step_metrics(d / "one"), m2 = test::read_step_metrics(d / "two");
  ASSERT_EQ(m1.size(), 5u);
  ASSERT_EQ(m2.size(), 5u);
  for (std::size_t i = 0; i < m1.size(); ++i) {
    EXPECT_NEAR(m2[i]["reward_mean"].get<double>(), m1[i]["reward_mean"].get<double>(), 1e-9);
    EXPECT_NEAR(m2[i]["loss"].get<double>(), m1[i]["loss"].get<double>(), 1e-6);
  }
  // the 2-process checkpoint of step 2 goes on in 1 process to the same end
  const auto c = train_cli("train", config, d / "two-then-one", 2, 1, rl::checkpoint_dir(d / "two", 2));
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_LT(max_parameter_diff(d / "two-then-one" / "final", d / "one" / "final"), 1e-5);

  // The perception KL is pooled per image and every other GRPO term is a mean over sequences, so the cut of the
  // batch does not matter either: 1 process x 4 (one micro-batch, grad_accum 1) = 2 processes x 2.
  const auto one_b = train_cli("train", config, d / "one-whole", 1, 1);
  ASSERT_EQ(one_b.status, 0) << one_b.output;
  EXPECT_LT(max_parameter_diff(d / "one-whole" / "final", d / "two" / "final"), 1e-5);
  const auto m3 = test::read_step_metrics(d / "one-whole");
  ASSERT_EQ(m3.size(), 5u);
  for (std::size_t i = 0; i < m3.size(); ++i) {
    EXPECT_NEAR(m3[i]["loss"].get<double>(), m2[i]["loss"].get<double>(), 1e-6);
    EXPECT_NEAR(m3[i]["kl_prcp"].get<double>(), m2[i]["kl_prcp"].get<double>(), 1e-6);
  }
}

// A timeout of 30 s: the survivor's exit well before it shows that a dead peer's closed connection is seen at once.
TEST(DistTrainingSlow, AKilledRankMakesTheOtherExitWithinTheTimeoutNamingIt) {
  REQUIRE_CLI();
  const auto o = external_ranks_with_a_victim(1, SIGKILL, 30);
  EXPECT_EQ(o.survivor.status, exit_status(ErrorCode::distributed)) << o.log;
  EXPECT_LT(o.survivor.seconds, 15.0) << o.log;
  EXPECT_NE(o.log.find("rank 1 stopped responding"), std::string::npos) << o.log;
}

TEST(DistTrainingSlow, AHungRankMakesTheOtherExitAtTheTimeoutNamingIt) {
  REQUIRE_CLI();
  const auto o = external_ranks_with_a_victim(1, SIGSTOP, 5);  // hangs: its connections stay open, nothing moves
  EXPECT_EQ(o.survivor.status, exit_status(ErrorCode::distributed)) << o.log;
  EXPECT_GE(o.survivor.seconds, 4.0) << o.log;
  EXPECT_LT(o.survivor.seconds, 20.0) << o.log;  // the timeout (5 s) plus 1.25 s to name the peer, on a busy machine
  EXPECT_NE(o.log.find("rank 1 stopped responding"), std::string::npos) << o.log;
}

TEST(DistTrainingSlow, WhenRankZeroDiesTheOthersNameIt) {
  REQUIRE_CLI();
  const auto o = external_ranks_with_a_victim(0, SIGKILL, 5);  // with it goes the store it hosts
  EXPECT_EQ(o.survivor.status, exit_status(ErrorCode::distributed)) << o.log;
  EXPECT_LT(o.survivor.seconds, 20.0) << o.log;
  EXPECT_NE(o.log.find("rank 0 is not reachable"), std::string::npos) << o.log;
}

TEST(DistTrainingSlow, LauncherStopsTheRunNamesTheKilledRankAndLeavesNoTemporaries) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto run = s.dir.path() / "run";
  // a checkpoint after every step, so a kill is likely to land while one is written
  auto launcher = spawn({cli(), "sft", "--nproc", "2", "--threads", "1", "--config", long_sft_config(s, 30, 1).string(),
                         "run.dir=" + run.string()},
                        {}, s.dir.path() / "launcher.log");
  std::string pid1;
  ASSERT_TRUE(eventually(
      [&] {
        const auto log = slurp(launcher.log);
        const auto at = log.find("rank 1 started (pid ");
        if (at == std::string::npos || metric_lines(run) < 3) return false;
        pid1 = log.substr(at + 20, log.find(')', at) - at - 20);
        return true;
      },
      180))
      << slurp(launcher.log);
  ::kill(std::stoi(pid1), SIGKILL);
  wait_for(launcher, 90);
  const auto log = slurp(launcher.log);
  EXPECT_EQ(launcher.status, exit_status(ErrorCode::distributed)) << log;
  EXPECT_NE(log.find("hawkeye: error: rank 1 (pid " + pid1 + ") was killed by signal 9"), std::string::npos) << log;
  EXPECT_NE(log.find("[rank 0] "), std::string::npos) << log;  // the workers' output, prefixed
  EXPECT_EQ(temporaries(run), std::vector<std::string>{});
  // what is there is complete: the latest checkpoint loads
  ASSERT_TRUE(rl::latest_checkpoint(run).has_value());
  EXPECT_TRUE(fs::exists(*rl::latest_checkpoint(run) / "optimizer.safetensors"));
}

// `--device` / `--dtype` on the training commands are run.device / run.dtype: written into the run's
// config.toml, passed on to workers, and a device this build or machine lacks is a clear error.
TEST(TrainingCli, DeviceAndDtypeOptionsAreRunKeys) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "sft.toml";
  std::ofstream(config) << s.model_toml() << "[train]\nsteps = 1\nbatch_size = 2\nval_every = 0\n";
  const auto ok = train_cli("sft", config, s.dir.path() / "bf16", 1, 1, {}, "--dtype bfloat16 --device cpu");
  ASSERT_EQ(ok.status, 0) << ok.output;
  const auto resolved = read_file(s.dir.path() / "bf16" / "config.toml");
  EXPECT_NE(resolved.find("dtype = 'bfloat16'"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("device = 'cpu'"), std::string::npos) << resolved;
  const auto bad = train_cli("sft", config, s.dir.path() / "tpu", 1, 1, {}, "--device tpu");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("expected cpu, cuda or cuda:N"), std::string::npos) << bad.output;
  if (!torch::cuda::is_available()) {
    const auto gpu = train_cli("train", config, s.dir.path() / "gpu", 1, 1, {}, "--device cuda");
    EXPECT_NE(gpu.status, 0);
    EXPECT_NE(gpu.output.find("no CUDA device is usable"), std::string::npos) << gpu.output;
  }
}

// Issue 18: SIGTERM (what a scheduler sends first) killed a run with status 143 and no checkpoint. It now stops
// the run like Ctrl-C: a checkpoint of the last step, no temporaries, exit 130; the run resumes from it.
TEST(TrainingCli, SigtermWritesACheckpointAndExits130) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto run = s.dir.path() / "run";
  auto p = spawn({cli(), "sft", "--threads", "1", "--config", long_sft_config(s, 30, 1000).string(), "run.dir=" + run.string()}, {},
                 s.dir.path() / "run.log");
  ASSERT_TRUE(eventually([&] { return metric_lines(run) >= 2; }, 180)) << slurp(p.log);
  ::kill(p.pid, SIGTERM);
  wait_for(p, 60);
  EXPECT_EQ(p.status, exit_status(ErrorCode::interrupted)) << slurp(p.log);
  const auto latest = rl::latest_checkpoint(run);
  ASSERT_TRUE(latest.has_value()) << slurp(p.log);
  EXPECT_TRUE(fs::exists(*latest / "optimizer.safetensors"));
  EXPECT_EQ(temporaries(run), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(run / ".lock"));
}

// Issue 18: a checkpoint that cannot be written (here a file-size limit, as a full disk: write(2) fails) stops the
// run with exit 4 and the error, leaves no temporary, and the checkpoint before it stays whole: the run resumes
// from it once the limit is gone.
TEST(TrainingCli, ACheckpointThatCannotBeWrittenStopsTheRunAndKeepsTheLastGoodOne) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "sft.toml";
  std::ofstream(config) << s.model_toml() << "[run]\nseed = 3\n[train]\nsteps = 4\nbatch_size = 2\nval_every = 0\n"
                        << "checkpoint_every = 2\nkeep_last = 5\n";
  const auto d = s.dir.path() / "run";
  const auto first = train_cli("sft", config, d, 1, 1, {}, "train.steps=2");
  ASSERT_EQ(first.status, 0) << first.output;
  const auto good = rl::checkpoint_dir(d, 2);
  ASSERT_TRUE(fs::exists(good / "optimizer.safetensors"));
  const double before = max_parameter_diff(good, d / "final");
  // Resume to step 4 under a file-size limit of 16 blocks (8 KiB in dash, 16 KiB in bash) with SIGXFSZ ignored: the
  // step-4 checkpoint's write fails (the run's small files stay under it).
  const std::string cmd = "trap '' XFSZ; ulimit -f 16; " + cli() + " sft --config '" + config.string() +
                          "' --threads 1 -q --resume '" + d.string() + "' --allow-config-change run.dir='" + d.string() +
                          "' train.steps=4 2>&1";
  const auto limited = test::run_command(cmd);
  EXPECT_EQ(limited.status, exit_status(ErrorCode::io)) << limited.output;
  EXPECT_NE(limited.output.find("File too large"), std::string::npos) << limited.output;
  EXPECT_EQ(temporaries(d), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(rl::checkpoint_dir(d, 4)));
  EXPECT_EQ(rl::latest_checkpoint(d)->filename().string(), "step-00000002");
  EXPECT_EQ(max_parameter_diff(good, d / "final"), before) << "the good checkpoint is untouched";
  const auto resumed = train_cli("sft", config, d, 1, 1, d, "train.steps=4 --allow-config-change");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(rl::checkpoint_dir(d, 4) / "optimizer.safetensors"));
}

// Issue 19 §4: the training progress line carries the running loss, and GRPO's the mean reward as well
// (HAWKEYE_PROGRESS=always draws the bar on a stderr that is not a terminal).
TEST(TrainingCli, TheProgressLineShowsTheRunningLossAndReward) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(true);
  const std::string common = s.model_toml() + "[train]\nsteps = 3\nbatch_size = 2\nval_every = 0\n";
  for (const char* kind : {"sft", "train"}) {
    const auto config = s.dir.path() / (std::string("progress-") + kind + ".toml");
    std::ofstream(config) << common << (std::string(kind) == "train" ? "[rollout]\nk = 2\nmax_new_tokens = 6\n" : "");
    const auto dir = s.dir.path() / (std::string("progress-") + kind);
    const auto r = test::run_command("HAWKEYE_PROGRESS=always " + cli() + " " + kind + " --config '" + config.string() +
                                     "' --threads 1 run.dir='" + dir.string() + "' 2>&1 >/dev/null");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(std::regex_search(r.output, std::regex("loss [-0-9.e]+"))) << kind << ": " << r.output;
    if (std::string(kind) == "train") EXPECT_TRUE(std::regex_search(r.output, std::regex("reward [-0-9.]+"))) << r.output;
  }
}

// Issue 18 item 6, through the CLI: `--resume` with a changed train.lr exits 2 naming the key; with
// --allow-config-change it goes on (and --nproc passes the flag to its workers).
TEST(TrainingCli, ResumeWithAChangedConfigNeedsAllowConfigChange) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "sft.toml";
  std::ofstream(config) << s.model_toml() << "[run]\nseed = 1\n[train]\nsteps = 1\nbatch_size = 4\nlr = 1e-3\nval_every = 0\n";
  const auto d = s.dir.path() / "run";
  const auto first = train_cli("sft", config, d, 1, 1);
  ASSERT_EQ(first.status, 0) << first.output;
  const auto refused = train_cli("sft", config, d, 1, 1, d, "train.steps=2 train.lr=5e-4");
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("train.lr 0.001 -> 0.0005"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("train.steps 1 -> 2"), std::string::npos) << refused.output;
  const auto allowed = train_cli("sft", config, d, 1, 2, d, "train.steps=2 train.lr=5e-4 --allow-config-change");
  EXPECT_EQ(allowed.status, 0) << allowed.output;
  EXPECT_EQ(rl::latest_checkpoint(d)->filename().string(), "step-00000002");
}

// Issue 15 (training beside other work): without --threads a run measures the load for half a second, starts with
// the cores left free (all of them on an idle machine; at least 1) and records that count as run.threads; a resume
// without --threads keeps the checkpoint's count (so it continues to the same weights); the config's run.threads
// and --threads N decide where given.
TEST(TrainingCli, WithoutThreadsARunRecordsTheCountItChoseAndAResumeKeepsIt) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "threads.toml";
  std::ofstream(config) << s.model_toml() << "[run]\nseed = 1\n[train]\nsteps = 1\nbatch_size = 4\nval_every = 0\n";
  auto sft = [&](const fs::path& d, const std::string& before, const std::string& after = "") {
    return test::run_command(cli() + " " + before + " sft --config '" + config.string() + "' run.dir='" + d.string() + "' " +
                             after + " 2>&1");
  };
  auto recorded = [](const fs::path& d) {
    return Config::load(*rl::latest_checkpoint(d) / "config.toml").get<int>("run.threads", -1);
  };
  // Measured from the load.
  const auto measured = sft(s.dir.path() / "measured", "");
  ASSERT_EQ(measured.status, 0) << measured.output;
  const int chosen = recorded(s.dir.path() / "measured");
  EXPECT_GE(chosen, 1);
  EXPECT_LE(chosen, available_cores());
  if (sample_cpu().valid) {  // the choice is logged where the load can be read (/proc/stat)
    EXPECT_TRUE(std::regex_search(measured.output, std::regex("threads: " + std::to_string(chosen) + " of [0-9]+ cores")))
        << measured.output;
  }
  // --threads 3 is recorded as 3; a resume without --threads keeps 3 (it does not measure).
  const auto d = s.dir.path() / "fixed";
  const auto fixed = sft(d, "--threads 3");
  ASSERT_EQ(fixed.status, 0) << fixed.output;
  EXPECT_EQ(recorded(d), 3);
  const auto resumed = sft(d, "", "--resume '" + d.string() + "' train.steps=2 --allow-config-change");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(rl::latest_checkpoint(d)->filename().string(), "step-00000002");
  EXPECT_EQ(recorded(d), 3);
  EXPECT_NE(resumed.output.find("threads: 3, as the checkpoint recorded"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find(" cores (other processes"), std::string::npos) << resumed.output;
  // The config's run.threads decides when --threads is absent.
  const auto configured = sft(s.dir.path() / "configured", "", "run.threads=2");
  ASSERT_EQ(configured.status, 0) << configured.output;
  EXPECT_EQ(recorded(s.dir.path() / "configured"), 2);
  EXPECT_EQ(configured.output.find(" cores (other processes"), std::string::npos) << configured.output;
}

// Issue 18: a train run killed at random points 20 times — SIGKILL (anything may be half-written) and SIGTERM
// (a checkpoint, exit 130) alternating, at a random step and a random moment within it — and resumed each time
// ends with the same weights as one uninterrupted run, bit for bit; each start removes what the killed run left
// half-written, and nothing of it is left at the end.
namespace {

// The crash test of one training command: an uninterrupted run, then the same run killed 20 times and resumed.
// After each restart has logged a step, nothing the killed process left half-written is still there.
void kill_twenty_times_and_resume(const std::string& command, const test::TinyTrainingSetup& s, const fs::path& config,
                                  std::size_t steps) {
  const auto ref = s.dir.path() / (command + "-ref"), run = s.dir.path() / (command + "-run");
  auto start = [&](const fs::path& dir, const std::string& log) {
    std::vector<std::string> args = {cli(), command, "--threads", "1", "-q", "--config", config.string(), "run.dir=" + dir.string()};
    if (rl::latest_checkpoint(dir)) args.insert(args.end(), {"--resume", dir.string()});
    return spawn(args, {}, s.dir.path() / (command + "-" + log));
  };
  const auto t0 = Clock::now();
  Proc whole = start(ref, "ref.log");
  wait_for(whole, 900);
  ASSERT_EQ(whole.status, 0) << slurp(whole.log);
  // The kills land "within the next step": the random delay after the target step is below one step's time (the
  // median time_step of the uninterrupted run; its wall time per step where that is missing), and the metrics file
  // is polled every 2 ms, so a fast machine does not run past many steps per attempt and finish before 20 kills.
  std::vector<double> step_times;
  for (const auto& j : test::read_step_metrics(ref))
    if (j.contains("time_step")) step_times.push_back(j["time_step"].get<double>());
  double step_s = seconds_since(t0) / static_cast<double>(steps);
  if (!step_times.empty()) {
    std::nth_element(step_times.begin(), step_times.begin() + step_times.size() / 2, step_times.end());
    step_s = step_times[step_times.size() / 2];
  }
  const auto step_ms = std::max<std::int64_t>(1, static_cast<std::int64_t>(step_s * 1000.0));

  Rng rng(20261206);
  int kills = 0, sigterms_with_checkpoint = 0, leftovers_checked = 0;
  int dead_pid = 0;  // the process killed last; its temporaries must be gone once the next one has logged a step
  auto of_pid = [](const std::vector<std::string>& names, int pid) {
    std::vector<std::string> out;
    for (const auto& n : names)
      if (n.find(".tmp-" + std::to_string(pid) + "-") != std::string::npos) out.push_back(n);
    return out;
  };
  for (int attempt = 0; kills < 20 && attempt < 60; ++attempt) {
    const std::size_t lines = metric_lines(run);
    Proc p = start(run, "run-" + std::to_string(attempt) + ".log");
    // a random number of steps further (1..6 metrics lines), then a random moment within the next step
    const std::size_t target = lines + 1 + rng.below(6);
    test::poll_until([&] { return metric_lines(run) >= target || fs::exists(run / "final"); }, 180, 2ms);
    if (dead_pid != 0 && metric_lines(run) > lines) {
      EXPECT_EQ(of_pid(temporaries(run), dead_pid), std::vector<std::string>{}) << "left by the killed pid " << dead_pid;
      ++leftovers_checked;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.below(static_cast<std::uint64_t>(step_ms))));
    if (fs::exists(run / "final")) {  // finished before the kill
      wait_for(p, 60);
      break;
    }
    const bool term = kills % 2 == 1;
    ::kill(p.pid, term ? SIGTERM : SIGKILL);
    wait_for(p, 120);
    dead_pid = p.pid;
    ++kills;
    if (term) {
      // SIGTERM: a checkpoint of the last finished step and exit 130 (or 0 when the run had just finished)
      EXPECT_TRUE(p.status == 130 || p.status == 0) << slurp(p.log);
      if (p.status == 130) ++sigterms_with_checkpoint;
    } else {
      EXPECT_EQ(p.status, 128 + SIGKILL) << slurp(p.log);
    }
  }
  const std::size_t at_last_kill = metric_lines(run);
  EXPECT_GE(kills, 20) << "the run finished before 20 kills: make it longer";
  EXPECT_GE(sigterms_with_checkpoint, 5);
  EXPECT_GE(leftovers_checked, 15);
  Proc last = start(run, "run-last.log");
  wait_for(last, 900);
  ASSERT_EQ(last.status, 0) << slurp(last.log);
  EXPECT_EQ(temporaries(run), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(run / ".lock"));
  const double diff = max_parameter_diff(ref / "final", run / "final");
  std::cout << command << ": killed " << kills << " times (the last at step " << at_last_kill << " of " << steps
            << "; " << step_ms << " ms a step); max |parameter difference| to the uninterrupted run: " << diff << "\n";
  EXPECT_EQ(diff, 0.0);
  // metrics.jsonl: each step once, in order
  std::vector<std::int64_t> logged;
  for (const auto& j : test::read_step_metrics(run)) logged.push_back(j["step"].get<std::int64_t>());
  ASSERT_EQ(logged.size(), steps);
  for (std::size_t i = 0; i < logged.size(); ++i) EXPECT_EQ(logged[i], static_cast<std::int64_t>(i + 1));
}

}  // namespace

TEST(TrainingCliSlow, KilledTwentyTimesAtRandomPointsResumesExactly) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(false);
  const auto config = s.dir.path() / "crash.toml";
  std::ofstream(config) << s.model_toml() << "[run]\nseed = 5\nlog_every = 1\n"
                        << "[train]\nsteps = 240\nbatch_size = 4\nlr = 1e-3\nwarmup_steps = 5\nval_every = 0\n"
                           "checkpoint_every = 2\nkeep_last = 2\n[augment]\ncrop = [48, 32]\nhflip = true\n";
  kill_twenty_times_and_resume("sft", s, config, 240);
}

// The same for Q-Hawkeye GRPO (`train`): rollouts, UADO, the perception twins and the reference model are in the
// checkpoint as well.
TEST(TrainingCliSlow, GrpoKilledTwentyTimesAtRandomPointsResumesExactly) {
  REQUIRE_CLI();
  test::TinyTrainingSetup s(true);
  const auto config = s.dir.path() / "grpo-crash.toml";
  std::ofstream(config) << s.model_toml() << "[run]\nseed = 5\nlog_every = 1\n"
                        << "[train]\nsteps = 300\nbatch_size = 2\nlr = 1e-3\nwarmup_steps = 2\nval_every = 0\n"
                           "checkpoint_every = 2\nkeep_last = 2\n[rollout]\nk = 3\nmax_new_tokens = 8\n[loss]\ngamma0 = 0.01\n";
  kill_twenty_times_and_resume("train", s, config, 300);
}
