// Helpers shared by the test suites.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace hawkeye::test {

// A fresh temporary directory, removed at the end of the scope.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("hawkeye-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The test data in the repository: tests/fixtures/ (origin and licence of every file: SOURCES.md).
inline std::filesystem::path fixtures() { return HAWKEYE_FIXTURES; }

// The full data of the tests that check more than the fixtures hold (every Kodak photograph, the 601 ImageNet
// samples, the test references of the shipped model): the file `relative` (e.g. "photos/imagenet_samples") of
// the shared data folder, else of the folder scripts/get-data.sh writes (data-work/refs), else an empty path.
// A test skips its full-data part, saying so, when the file is in neither (docs/data.md). With the environment
// variable HAWKEYE_TEST_NO_FULL_DATA=1 the tests behave as on a fresh clone without either folder (the check of
// issue 19: `HAWKEYE_TEST_NO_FULL_DATA=1 ctest --test-dir build`), without rebuilding them.
inline std::filesystem::path full_data_file(const std::string& relative) {
  if (const char* off = std::getenv("HAWKEYE_TEST_NO_FULL_DATA"); off && *off && std::string(off) != "0") return {};
  for (const std::filesystem::path dir : {std::filesystem::path(HAWKEYE_SHARED_DATA), std::filesystem::path(HAWKEYE_DATA_DIR)}) {
    std::error_code ec;
    if (std::filesystem::exists(dir / relative, ec)) return dir / relative;
  }
  return {};
}

inline std::filesystem::path source_dir() { return HAWKEYE_SOURCE_DIR; }

struct CommandResult {
  int status = -1;  // exit status, or -1 when the process died by a signal
  bool signaled = false;
  std::string output;  // stdout (stderr merged when requested)
};

// Runs a shell command and captures its stdout.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  else r.signaled = true;
  return r;
}

// `n` child processes that spin on the CPU until this object ends (or `lifetime_s` passes: they never outlive a
// crashed test), to make a machine busy.
class SpinningChildren {
 public:
  explicit SpinningChildren(int n, unsigned lifetime_s = 60) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = ::fork();
      if (pid < 0) break;
      if (pid == 0) {
        ::alarm(lifetime_s);
        volatile unsigned long x = 0;
        for (;;) x = x + 1;
      }
      pids_.push_back(pid);
    }
  }
  ~SpinningChildren() { stop(); }
  SpinningChildren(const SpinningChildren&) = delete;
  SpinningChildren& operator=(const SpinningChildren&) = delete;
  std::size_t started() const { return pids_.size(); }
  void stop() {
    for (const pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (const pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

// Checks `pred` every `interval` until it holds or `limit_s` seconds have passed; its last value. For what a test must
// wait for (a request reaching a queue, a training step logged) instead of a fixed sleep, which a busy machine can
// outlast.
inline bool poll_until(const std::function<bool()>& pred, double limit_s = 30,
                       std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < limit_s) {
    if (pred()) return true;
    std::this_thread::sleep_for(interval);
  }
  return pred();
}

}  // namespace hawkeye::test
