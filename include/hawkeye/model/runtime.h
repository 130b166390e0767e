// Torch runtime settings: intra-op threads and a start-up check that the BLAS behind torch is a fast one.
#pragma once
#include <functional>
#include <string>

#include "hawkeye/core/threads.h"

namespace hawkeye {

std::string torch_version();  // e.g. "1.13.1"

// Sets torch's intra-op threads (and OpenCV/OpenMP through apply_base_threads). n <= 0 = all cores.
// Inter-op threads are fixed to 1 once: hawkeye does not run independent torch ops concurrently.
int apply_threads(int n);

// Follows the load of the machine: before each unit of work (a batch of images) it looks at how many cores other
// processes kept busy since the last look and sets torch's and OpenMP's (and so OpenBLAS's) thread count of the
// calling thread to the cores left free (OpenCV's pool keeps its size: resizing it under running loader threads
// is not safe) (at least 1, at most max_threads; threads_for_load). Two
// threads on a machine whose other core is taken wait at every barrier for the descheduled one: scoring beside
// two busy processes was 32 % slower with 2 threads than with 1 (bench/README.md, section 4). Call update() on
// the thread that runs the model (OpenMP's count is per thread). A thread count changes the order of some
// floating-point sums, so numbers can differ in their last bits between counts (greedy answers matched on every
// image we checked); training keeps a fixed count for that reason, except a step whose values do not depend on the
// count (rl::TrainOptions::follow_load_up_to: it calls update() before every step). The sampler is replaceable for tests.
class ThreadGovernor {
 public:
  using Sampler = std::function<CpuSample()>;
  explicit ThreadGovernor(int max_threads, Sampler sampler = sample_cpu, int cores = available_cores());
  // Re-chooses the count from the load since the previous call (windows under 0.25 s — 0.1 s for the first
  // decision — keep the current count and go on measuring; windows over 5 s, a pause between requests, keep it and
  // start a fresh window) and sets it on
  // the calling thread where that thread's count differs. Returns the count in use.
  int update();
  int threads() const { return current_; }
  int max_threads() const { return max_; }
  int changes() const { return changes_; }  // how often the count changed

 private:
  int max_ = 1, cores_ = 1, current_ = 1, changes_ = 0;
  bool decided_ = false;  // a window has been long enough to judge
  Sampler sampler_;
  CpuSample last_;
};

// What a BLAS library path says about it: OpenBLAS (OpenMP) or MKL = fast; the pthread OpenBLAS fights
// OpenMP for cores; netlib's reference BLAS is slow; anything else is unknown.
enum class BlasKind { fast, pthread, reference, unknown };
BlasKind classify_blas(const std::string& library);

struct BlasCheck {
  std::string library;     // path of the BLAS mapped into the process ("" when unknown)
  BlasKind kind = BlasKind::unknown;
  double gflops = 0;       // measured float32 512x512 matmul throughput, per second of wall time
  double gflops_per_cpu_second = 0;  // the same per second of this process's CPU time (what load cannot lower)
  bool slow = false;       // the reference BLAS, or below 6 GFLOP per CPU-second
};

// Times a 512x512 float32 matmul through torch (a few ms). Logs a one-time warning when the reference
// (netlib) BLAS or the pthread OpenBLAS is in use (with the fix), or when the speed per CPU-second is far too
// low: with the install advice only where the library is not the OpenMP OpenBLAS or MKL. Wall-clock speed,
// which a busy machine lowers, decides nothing.
BlasCheck check_blas(bool warn = true);

}  // namespace hawkeye
