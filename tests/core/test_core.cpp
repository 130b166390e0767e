#include <gtest/gtest.h>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <set>
#include <sstream>

#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/writers.h"
#include "test_util.h"

using namespace hawkeye;

TEST(Error, CodesMapToDistinctExitStatuses) {
  std::set<int> seen;
  for (int c = 1; c <= static_cast<int>(ErrorCode::internal); ++c) {
    const int s = exit_status(static_cast<ErrorCode>(c));
    EXPECT_NE(s, 0);
    EXPECT_TRUE(seen.insert(s).second) << "duplicate exit status " << s;
    EXPECT_NE(error_code_name(static_cast<ErrorCode>(c)), "unknown");
  }
}

TEST(Random, DerivedSeedsDependOnIdentityOnly) {
  EXPECT_EQ(derive_seed(7, "kodim01.png|3|2"), derive_seed(7, "kodim01.png|3|2"));
  EXPECT_NE(derive_seed(7, "kodim01.png|3|2"), derive_seed(7, "kodim01.png|3|3"));
  EXPECT_NE(derive_seed(7, "a"), derive_seed(8, "a"));
  EXPECT_NE(derive_seed(1, 2, 3), derive_seed(1, 3, 2));
}

TEST(Random, RngIsReproducibleAndUniform) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a(), b());
  Rng r(1);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    sum += x;
    sum2 += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.01);
  int counts[7] = {};
  for (int i = 0; i < 70000; ++i) counts[r.below(7)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(Random, StateRoundTrip) {
  Rng a(3);
  a();
  Rng b(0);
  b.set_state(a.state());
  EXPECT_EQ(a(), b());
}

TEST(Threads, ResolvesZeroToAvailableCores) {
  EXPECT_GE(available_cores(), 1);
  EXPECT_EQ(resolve_thread_count(0), available_cores());
  EXPECT_EQ(resolve_thread_count(3), 3);
}

// The load a thread count follows (core/threads.h): /proc/stat's busy ticks of the cores this process may use,
// less its own CPU time, per second of wall time.
TEST(Threads, ProcStatBusyTimeOfTheAllowedCores) {
  const std::string stat =
      "cpu  1000 50 300 9000 20 5 5 10 0 0\n"
      "cpu0 600 50 200 4000 10 3 2 5 0 0\n"
      "cpu1 400 0 100 5000 10 2 3 5 0 0\n"
      "cpuX 1 1 1 1\n"
      "intr 12345 0 0\n"
      "ctxt 999\n";
  // machine line: user + nice + system + irq + softirq + steal = 1000 + 50 + 300 + 5 + 5 + 10 ticks at 100 per second
  EXPECT_DOUBLE_EQ(*proc_stat_busy_seconds(stat, {}, 100.0), 13.7);
  EXPECT_DOUBLE_EQ(*proc_stat_busy_seconds(stat, {1}, 100.0), 5.1);  // 400 + 0 + 100 + 2 + 3 + 5
  EXPECT_DOUBLE_EQ(*proc_stat_busy_seconds(stat, {0, 1}, 100.0), 13.7);
  EXPECT_FALSE(proc_stat_busy_seconds(stat, {7}, 100.0).has_value());
  EXPECT_FALSE(proc_stat_busy_seconds("garbage\n", {}, 100.0).has_value());
  EXPECT_FALSE(proc_stat_busy_seconds("", {}, 100.0).has_value());
  EXPECT_FALSE(proc_stat_busy_seconds(stat, {}, 0.0).has_value());
  EXPECT_TRUE(sample_cpu().valid) << "Linux has /proc/stat";
}

TEST(Threads, OtherProcessesLoadAndTheThreadCountItLeaves) {
  CpuSample a{100.0, 50.0, 3.0, true};
  CpuSample b{102.0, 53.0, 4.0, true};  // 3 busy CPU-seconds in 2 s, 1 of them ours: others kept 1 core busy
  EXPECT_DOUBLE_EQ(others_busy_cores(a, b), 1.0);
  b.self = 6.0;  // more own time than the machine's busy time (ticks are coarse): never below 0
  EXPECT_DOUBLE_EQ(others_busy_cores(a, b), 0.0);
  EXPECT_LT(others_busy_cores(a, CpuSample{100.01, 50.0, 3.0, true}), 0) << "a 10 ms window says nothing";
  EXPECT_LT(others_busy_cores(a, CpuSample{}), 0);
  // 2 cores: idle -> 2; a neighbour on one core (or most of it) -> 1; always at least 1, at most the maximum.
  EXPECT_EQ(threads_for_load(2, 2, 0.0), 2);
  EXPECT_EQ(threads_for_load(2, 2, 0.4), 2);
  EXPECT_EQ(threads_for_load(2, 2, 0.6), 1);
  EXPECT_EQ(threads_for_load(2, 2, 1.0), 1);
  EXPECT_EQ(threads_for_load(2, 2, 5.0), 1);
  EXPECT_EQ(threads_for_load(4, 16, 2.0), 4);
  EXPECT_EQ(threads_for_load(16, 16, 2.2), 14);
  EXPECT_EQ(threads_for_load(0, 2, 0.0), 1);
  EXPECT_EQ(threads_for_load(2, 2, -1.0), 2) << "unknown load: the maximum";
}

TEST(Fs, AtomicWriteReplacesContent) {
  test::TempDir dir;
  const auto p = dir.path() / "a.txt";
  write_file_atomic(p, "first");
  write_file_atomic(p, "second");
  EXPECT_EQ(read_file(p), "second");
  // no temporary files left behind
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1);
}

TEST(Fs, AtomicWriteSurvivesFailureMidWrite) {
  test::TempDir dir;
  const auto p = dir.path() / "state.json";
  write_file_atomic(p, "old content");
  EXPECT_THROW(write_file_atomic(p,
                                 [](std::ostream& out) {
                                   out << std::string(1 << 20, 'x');  // more than the stream buffer
                                   throw std::runtime_error("simulated crash");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_file(p), "old content");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1) << "temporary file not cleaned up";
}

TEST(Fs, ReadFileErrors) {
  test::TempDir dir;
  try {
    read_file(dir.path() / "missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
  try {
    read_file(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  write_file_atomic(dir.path() / "big", std::string(100, 'a'));
  try {
    read_file(dir.path() / "big", 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
  }
}

TEST(Fs, PublishDirectoryReplacesAtomically) {
  test::TempDir dir;
  const auto final_dir = dir.path() / "step-1";
  fs::create_directories(dir.path() / "tmp1");
  write_file_atomic(dir.path() / "tmp1" / "x", "1");
  publish_directory(dir.path() / "tmp1", final_dir);
  fs::create_directories(dir.path() / "tmp2");
  write_file_atomic(dir.path() / "tmp2" / "x", "2");
  publish_directory(dir.path() / "tmp2", final_dir);
  EXPECT_EQ(read_file(final_dir / "x"), "2");
  EXPECT_FALSE(fs::exists(dir.path() / "tmp2"));
}

TEST(Writers, JsonlWritesNullForNonFinite) {
  std::ostringstream os;
  JsonlWriter w(os);
  ordered_json r;
  r["path"] = "a.png";
  r["score"] = std::nan("");
  r["samples"] = {1.0, std::numeric_limits<double>::infinity()};
  w.write(r);
  EXPECT_EQ(os.str(), "{\"path\":\"a.png\",\"score\":null,\"samples\":[1.0,null]}\n");
}

TEST(Writers, CsvKeepsColumnOrderAndQuotes) {
  std::ostringstream os;
  CsvWriter w(os, {"path", "score", "reasoning"});
  ordered_json r;
  r["reasoning"] = "blurry, \"soft\"\nedges";
  r["path"] = "a.png";
  r["extra"] = 1;
  r["score"] = std::nan("");
  w.write(r);
  EXPECT_EQ(os.str(), "path,score,reasoning\na.png,,\"blurry, \"\"soft\"\"\nedges\"\n");
  const auto cells = csv_split("a,\"b,c\",\"d\"\"e\",");
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[1], "b,c");
  EXPECT_EQ(cells[2], "d\"e");
  EXPECT_EQ(cells[3], "");
  EXPECT_THROW(csv_split("a,\"b"), Error);
}

TEST(Config, TomlOverridesAndTypedErrors) {
  Config c = Config::parse_toml("[train]\nlr = 5e-6\nsteps = 10\nname = \"x\"\n[rl]\nuado = true\n", "t.toml");
  EXPECT_DOUBLE_EQ(c.get<double>("train.lr", 0), 5e-6);
  EXPECT_EQ(c.get<int>("train.steps", 0), 10);
  EXPECT_TRUE(c.get<bool>("rl.uado", false));
  EXPECT_EQ(c.get<int>("train.missing", 3), 3);
  c.apply_override("rl.uado=false");
  c.apply_override("train.name=hello");
  c.apply_override("new.nested.k=[1,2]");
  EXPECT_FALSE(c.get<bool>("rl.uado", true));
  EXPECT_EQ(c.get<std::string>("train.name", ""), "hello");
  EXPECT_EQ(c.get<std::vector<int>>("new.nested.k", {}), (std::vector<int>{1, 2}));
  try {
    c.get<int>("train.name", 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.name"), std::string::npos);
  }
  EXPECT_THROW(c.require<int>("nope"), Error);
  EXPECT_THROW(c.apply_override("novalue"), Error);
  try {
    Config::parse_toml("a = [1,\n", "bad.toml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parse);
    EXPECT_NE(std::string(e.what()).find("bad.toml:"), std::string::npos);
  }
  // the resolved config round-trips through TOML
  Config back = Config::parse_toml(c.to_toml());
  EXPECT_EQ(back.root(), c.root());
}

// Issue 19 §4: printed configs had float noise (`alpha = 0.20000000000000001`). Floats are written in the
// shortest form that reads back to the same double, and they do read back exactly.
TEST(Config, TomlFloatsAreShortAndExact) {
  Config c;
  const double values[] = {0.2, 0.28, 0.0468, 1.234567891234e-5, 1.0, 1e300, 0.1 + 0.2, 5e-324, -2.5};
  for (std::size_t i = 0; i < std::size(values); ++i) c.set("loss.v" + std::to_string(i), values[i]);
  const std::string text = c.to_toml();
  EXPECT_NE(text.find("v0 = 0.2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("v1 = 0.28\n"), std::string::npos) << text;
  EXPECT_NE(text.find("v2 = 0.0468\n"), std::string::npos) << text;
  EXPECT_NE(text.find("v4 = 1.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("v6 = 0.30000000000000004\n"), std::string::npos) << text;  // not 0.3: that is another double
  const Config back = Config::parse_toml(text);
  for (std::size_t i = 0; i < std::size(values); ++i) {
    EXPECT_EQ(back.require<double>("loss.v" + std::to_string(i)), values[i]) << i;
  }
}

// Strings: literal ('…') when they can be, basic with escapes otherwise; both read back exactly.
TEST(Config, TomlStringsReadBackExactly) {
  Config c;
  const std::string values[] = {"data-work/runs/a", "it's", "tab\there", "line\nbreak", "back\\slash", "\"quoted\"", ""};
  for (std::size_t i = 0; i < std::size(values); ++i) c.set("run.s" + std::to_string(i), values[i]);
  c.set("model.freeze", nlohmann::json::array({"visual.", "visual_aux."}));
  const std::string text = c.to_toml();
  EXPECT_NE(text.find("s0 = 'data-work/runs/a'\n"), std::string::npos) << text;
  EXPECT_NE(text.find("freeze = [ 'visual.', 'visual_aux.' ]\n"), std::string::npos) << text;
  const Config back = Config::parse_toml(text);
  for (std::size_t i = 0; i < std::size(values); ++i) EXPECT_EQ(back.require<std::string>("run.s" + std::to_string(i)), values[i]) << i;
  EXPECT_EQ(back.root(), c.root());
}

// The base layer's one thread pool (core/parallel.h): every item once, worker ids in range, the first error
// rethrown after all threads stopped, no threads for no items.
TEST(Parallel, EveryItemOnceAndTheFirstErrorRethrown) {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> seen(100);
    std::atomic<int> bad_worker{0};
    const int workers = parallel_workers(seen.size(), threads);
    EXPECT_EQ(workers, std::min(threads, 100));
    parallel_for(seen.size(), threads, [&](std::size_t i, int worker) {
      if (worker < 0 || worker >= workers) ++bad_worker;
      ++seen[i];
    });
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].load(), 1) << i << " threads " << threads;
    EXPECT_EQ(bad_worker.load(), 0);
  }
  EXPECT_EQ(parallel_workers(1, 8), 1);
  EXPECT_EQ(parallel_workers(0, 8), 1);
  bool called = false;
  parallel_for(0, 4, [&](std::size_t, int) { called = true; });
  EXPECT_FALSE(called);
  // an error stops the others from taking items and reaches the caller: items after 5 wait for it to be thrown,
  // then take 1 ms each, so without the stop the call would run for 10 s
  std::atomic<int> ran{0};
  std::atomic<bool> thrown{false};
  EXPECT_THROW(parallel_for(10000, 2,
                            [&](std::size_t i, int) {
                              ++ran;
                              if (i == 5) {
                                thrown = true;
                                throw std::runtime_error("item 5");
                              }
                              if (i < 5) return;
                              for (int k = 0; k < 10000 && !thrown; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                              std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 5000);
}

// Issue 19 §4: an ETA that is not wildly wrong in the first seconds (measured from the first advance, not from
// the start-up before it), and log lines that do not land inside the bar.
TEST(Progress, TheEstimateLeavesOutTheStartUp) {
  // 10 s of start-up (a model load, the first batch), then 16 images per second in batches of 16
  Progress::Estimate e = Progress::estimate(16, 160, 16, 10.0, 0.0);
  EXPECT_LT(e.eta, 0);  // one batch: not known yet (the old estimate said 90 s)
  e = Progress::estimate(32, 160, 16, 11.0, 1.0);
  EXPECT_DOUBLE_EQ(e.rate, 16.0);
  EXPECT_DOUBLE_EQ(e.eta, 8.0);  // the old estimate: 128 / (32 / 11) = 44 s
  e = Progress::estimate(17, 160, 16, 10.2, 0.2);
  EXPECT_LT(e.eta, 0);  // under a second after the first advance: too early to say
  e = Progress::estimate(160, 160, 16, 19.0, 9.0);
  EXPECT_EQ(e.eta, 0.0);
  {
    Progress quiet("x", 10, false);
    quiet.skip(4);      // a resumed run's steps
    quiet.advance(0);   // nothing
    EXPECT_EQ(quiet.done(), 4u);
  }
  e = Progress::estimate(5, 0, 1, 2.0, 1.5);  // unknown total: a rate, no ETA
  EXPECT_LT(e.eta, 0);
  EXPECT_GT(e.rate, 0);
}

TEST(Progress, LogLinesDoNotLandInsideTheBar) {
  test::TempDir dir;
  const std::string file = (dir.path() / "stderr.txt").string();
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  struct Restore {  // stderr and the environment come back even when an assertion below ends the test
    int saved;
    ~Restore() {
      std::fflush(stderr);
      if (saved >= 0) ::dup2(saved, STDERR_FILENO), ::close(saved);
      ::unsetenv("HAWKEYE_PROGRESS");
    }
  } restore{saved};
  ::setenv("HAWKEYE_PROGRESS", "always", 1);
  log_setup("info", false);
  {
    Progress bar("work", 10);
    EXPECT_TRUE(bar.visible());
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    bar.set_status("loss 0.5");
    bar.advance(3);  // drawn: more than 100 ms since the start
    spdlog::info("a log line");
    bar.advance(7);
    bar.finish();
  }
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  restore.saved = -1;
  ::unsetenv("HAWKEYE_PROGRESS");
  const std::string text = read_file(file);
  // the bar, then its line cleared, the log line on a line of its own, then the bar again below it
  const auto bar_at = text.find("\rwork [");
  const auto clear_at = text.find("\r\x1b[K");
  const auto log_at = text.find("a log line\n");
  ASSERT_NE(bar_at, std::string::npos) << text;
  ASSERT_NE(clear_at, std::string::npos) << text;
  ASSERT_NE(log_at, std::string::npos) << text;
  EXPECT_LT(bar_at, clear_at);
  EXPECT_LT(clear_at, log_at);
  EXPECT_NE(text.find("loss 0.5"), std::string::npos) << text;
  EXPECT_NE(text.find("\rwork [", log_at), std::string::npos) << text;  // drawn again after the log line
  EXPECT_EQ(text.substr(clear_at + 4, text.find("a log line") - clear_at - 4).find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

// Found by fuzz/fuzz_toml_config: a number beyond double's range in a key=value override escaped as a JSON
// library exception (exit 1, "unexpected"); it is a usage error naming the override.
TEST(Config, AnOverrideBeyondDoubleRangeIsAClearError) {
  Config c;
  try {
    c.apply_override("train.lr=1e999");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("train.lr=1e999"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
  c.apply_override("train.lr=1e-5");
  EXPECT_EQ(c.require<double>("train.lr"), 1e-5);
}
