// A local launcher: starts N worker processes of a program with the torchrun variables, hosts their
// rendezvous store (so it outlives any worker), forwards their output line by line with a rank prefix,
// and, when one fails, stops the others and says which rank failed and how.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye::dist {

struct LaunchOptions {
  std::filesystem::path program;          // executed as is (an absolute path, or relative to the working directory)
  std::vector<std::string> args;          // argv[1..] of every worker
  int nproc = 2;
  std::map<std::string, std::string> env; // extra variables for every worker (e.g. OMP_NUM_THREADS)
  std::chrono::milliseconds store_timeout{300000};
  // After a failure the other workers get SIGINT (they stop at the next safe point), then SIGKILL after this.
  std::chrono::milliseconds grace{10000};
  // Temporary siblings left by workers that did not finish ("<name>.tmp-<pid>-<n>", see core/fs.h) are
  // removed from these directories at the end, so nothing half-written stays behind.
  std::vector<std::filesystem::path> cleanup_dirs;
  // One line of a worker's output (stream 1 = stdout, 2 = stderr), without its newline.
  // Default: rank 0's stdout is passed through as is (the command's result); every other line goes to the
  // same stream prefixed "[rank N] ".
  std::function<void(int rank, int stream, std::string_view line)> on_line;
  std::function<void(int rank, pid_t pid)> on_start;
  // Set by the caller's signal handler to a signal number (SIGINT, SIGTERM): the launcher sends it to every
  // running worker once and clears it.
  std::atomic<int>* forward_signal = nullptr;
};

struct LaunchResult {
  int exit_code = 0;        // 0 when every worker exited 0; else the failing worker's status (11 when killed by a signal)
  int failed_rank = -1;     // the first worker that failed, -1 when none
  std::string message;      // "rank 1 (pid 123) was killed by signal 9 (Killed)" ... ; empty on success
  std::vector<int> statuses;  // per rank: exit status, or 128 + signal
};

// Errors: invalid_argument (nproc < 1, no program), io (fork/pipe failed), distributed (the store cannot be
// hosted). A worker that cannot be executed exits 127 and its message names the program.
LaunchResult launch_local(const LaunchOptions& options);

}  // namespace hawkeye::dist
