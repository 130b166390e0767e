// Nothing lost: streamed files appear only when complete, crash leftovers of dead processes are removed
// (those of live ones kept), and a run directory or output file has one writer at a time.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/core/writers.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

// The PID of a process that has exited (and been reaped): no process has it until the kernel reuses it.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return pid;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The ErrorCode and message of what `f` throws.
template <class F>
std::pair<ErrorCode, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {ErrorCode::internal, "nothing thrown"};
}

}  // namespace

TEST(AtomicFile, StreamedContentAppearsOnlyAtCommitAndAnAbandonedFileLeavesTheOldOne) {
  test::TempDir dir;
  const auto p = dir.path() / "scores.jsonl";
  write_file_atomic(p, "old\n");
  {
    AtomicFile f(p);
    f.stream() << "new line 1\n";
    f.stream().flush();
    EXPECT_EQ(slurp(p), "old\n");  // an input of this name stays readable while the output streams
    EXPECT_TRUE(fs::exists(f.temporary()));
    f.commit();
    EXPECT_FALSE(fs::exists(f.temporary()));
  }
  EXPECT_EQ(slurp(p), "new line 1\n");
  fs::path abandoned;
  {
    AtomicFile f(p);
    f.stream() << "half";
    abandoned = f.temporary();
  }
  EXPECT_EQ(slurp(p), "new line 1\n");
  EXPECT_FALSE(fs::exists(abandoned));
}

TEST(Fs, StaleTemporariesOfDeadProcessesAreRemovedThoseOfLiveOnesKept) {
  test::TempDir dir;
  const auto d = dir.path();
  const std::string dead = std::to_string(dead_pid()), self = std::to_string(::getpid()), init = "1";
  struct Case {
    std::string name;
    bool directory;
    bool removed;
  };
  const std::vector<Case> cases = {
      {"step-00000004.tmp-" + dead + "-0", true, true},       // a half-written checkpoint
      {"final.tmp-" + dead + "-3", true, true},               // a half-written final model
      {"final.tmp-" + dead + "-3.old", true, true},           // the previous final/, moved aside
      {"config.toml.tmp-" + dead + "-12", false, true},
      {"config.toml.tmp-" + self + "-1", false, false},       // this process is alive
      {"config.toml.tmp-" + init + "-1", false, false},       // so is PID 1 (EPERM counts as alive)
      {"step-00000004", true, false},                         // not temporaries
      {"config.toml", false, false},
      {"notes.tmp-x-1", false, false},
      {"notes.tmp-" + dead, false, false},
      {".tmp-" + dead + "-1", false, false},
  };
  for (const auto& c : cases) {
    if (c.directory) {
      fs::create_directories(d / c.name);
      write_file_atomic(d / c.name / "model.safetensors", "x");
    } else {
      write_file_atomic(d / c.name, "x");
    }
  }
  const auto removed = remove_stale_temporaries(d);
  std::size_t expected = 0;
  for (const auto& c : cases) {
    EXPECT_EQ(fs::exists(d / c.name), !c.removed) << c.name;
    expected += c.removed;
  }
  EXPECT_EQ(removed.size(), expected);

  // With a name: only that file's temporaries.
  write_file_atomic(d / ("scores.jsonl.tmp-" + dead + "-0"), "x");
  write_file_atomic(d / ("other.jsonl.tmp-" + dead + "-0"), "x");
  EXPECT_EQ(remove_stale_temporaries(d, "scores.jsonl").size(), 1u);
  EXPECT_FALSE(fs::exists(d / ("scores.jsonl.tmp-" + dead + "-0")));
  EXPECT_TRUE(fs::exists(d / ("other.jsonl.tmp-" + dead + "-0")));
}

TEST(PathLock, ASecondHolderIsRefusedNamingTheOwnersPid) {
  test::TempDir dir;
  const auto run = dir.path() / "run";
  {
    const PathLock first = lock_directory(run, "run directory " + run.string());
    EXPECT_TRUE(fs::exists(run / ".lock"));
    const auto [code, message] = error_of([&] { PathLock second = lock_directory(run, "run directory " + run.string()); });
    EXPECT_EQ(code, ErrorCode::in_use) << message;
    EXPECT_EQ(exit_status(code), 14);
    EXPECT_NE(message.find("run directory " + run.string() + " is in use by PID " + std::to_string(::getpid())), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(run / ".lock"));  // released and removed
  const PathLock again = lock_directory(run, "run");
  const auto out = dir.path() / "scores.jsonl";
  const PathLock file = lock_output_file(out, out.string());
  EXPECT_EQ(file.file(), dir.path() / "scores.jsonl.lock");
  EXPECT_EQ(error_of([&] { PathLock other = lock_output_file(out, out.string()); }).first, ErrorCode::in_use);
}

TEST(PathLock, AnotherProcessIsRefusedWhileTheOwnerLivesAndGetsItWhenTheOwnerIsKilled) {
  test::TempDir dir;
  const auto run = dir.path() / "run";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t owner = ::fork();
  if (owner == 0) {
    try {
      PathLock lock = lock_directory(run, "run");
      char c = 1;
      (void)!::write(ready[1], &c, 1);
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const auto [code, message] = error_of([&] { PathLock lock = lock_directory(run, "run directory"); });
  EXPECT_EQ(code, ErrorCode::in_use);
  EXPECT_NE(message.find("in use by PID " + std::to_string(owner)), std::string::npos) << message;
  ::kill(owner, SIGKILL);  // the kernel drops the lock of a killed process; its lock file stays behind
  int st = 0;
  ::waitpid(owner, &st, 0);
  EXPECT_TRUE(fs::exists(run / ".lock"));
  EXPECT_NO_THROW(PathLock lock = lock_directory(run, "run directory"));
  ::close(ready[0]);
  ::close(ready[1]);
}

// File names need not be UTF-8: their escaped form is lossless and plain names are unchanged.
TEST(Writers, EscapedBytesRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"images/a.png", "images/a.png"},
      {"caf\xc3\xa9.png", "caf\xc3\xa9.png"},  // valid UTF-8 is kept
      {"caf\xe9.png", "caf\\xe9.png"},          // Latin-1
      {"a\\b", "a\\\\b"},
      {"\xff\xfe\\x41", "\\xff\\xfe\\\\x41"},
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},     // a UTF-16 surrogate is not UTF-8
  };
  for (const auto& [bytes, escaped] : cases) {
    EXPECT_EQ(escape_bytes(bytes), escaped);
    EXPECT_EQ(unescape_bytes(escaped), bytes);
    EXPECT_EQ(is_valid_utf8(bytes), bytes == escaped || bytes == "a\\b");
  }
  for (const char* bad : {"a\\", "a\\x4", "a\\xzz", "a\\n"}) EXPECT_THROW(unescape_bytes(bad), Error) << bad;
}
