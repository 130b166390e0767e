// The start-up BLAS check (model/runtime.h): it decides from the library that is loaded, and its speed
// measurement (per CPU-second) does not call a fast BLAS slow when other processes keep every core busy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <unistd.h>

#include <ATen/Parallel.h>

#include <vector>

#include "hawkeye/core/threads.h"
#include "hawkeye/model/runtime.h"
#include "test_util.h"

using namespace hawkeye;

TEST(BlasCheck, TheLibraryPathSaysWhichBlasItIs) {
  const std::string dir = "/usr/lib/x86_64-linux-gnu/";
  EXPECT_EQ(classify_blas(dir + "openblas-openmp/libblas.so.3"), BlasKind::fast);
  EXPECT_EQ(classify_blas(dir + "openblas-openmp/libopenblasp-r0.3.21.so"), BlasKind::fast);
  EXPECT_EQ(classify_blas("/opt/intel/oneapi/mkl/lib/libmkl_rt.so.2"), BlasKind::fast);
  EXPECT_EQ(classify_blas(dir + "openblas-pthread/libblas.so.3"), BlasKind::pthread);
  EXPECT_EQ(classify_blas(dir + "blas/libblas.so.3"), BlasKind::reference);
  EXPECT_EQ(classify_blas(""), BlasKind::unknown);
  EXPECT_EQ(classify_blas("/somewhere/libcustomblas.so"), BlasKind::unknown);
}

// Every core busy with another process (spinning children): the wall-clock speed of the probe drops, the speed
// per CPU-second does not, and the OpenMP OpenBLAS that scripts/setup.sh installs is not called slow.
TEST(BlasCheck, AFastBlasIsNotCalledSlowOnABusyMachine) {
  apply_threads(available_cores());
  const BlasCheck idle = check_blas(false);
  ASSERT_EQ(idle.kind, BlasKind::fast) << "scripts/setup.sh pins the OpenMP OpenBLAS; loaded: " << idle.library;
  test::SpinningChildren children(2 * available_cores());
  ASSERT_EQ(children.started(), static_cast<std::size_t>(2 * available_cores()));
  usleep(200 * 1000);
  BlasCheck busy;
  for (int i = 0; i < 3; ++i) {
    busy = check_blas(false);
    EXPECT_FALSE(busy.slow) << busy.gflops_per_cpu_second << " GFLOP per CPU-second (wall: " << busy.gflops << ")";
  }
  children.stop();
  EXPECT_EQ(busy.kind, BlasKind::fast);
  EXPECT_GT(busy.gflops_per_cpu_second, 6.0);
  std::printf("BLAS probe: idle %.1f GFLOP/s wall, %.1f per CPU-second; busy %.1f wall, %.1f per CPU-second\n", idle.gflops,
              idle.gflops_per_cpu_second, busy.gflops, busy.gflops_per_cpu_second);
}

// ThreadGovernor (model/runtime.h) with a scripted load: the count follows the cores other processes leave free,
// keeps its count over windows too short to judge, and sets torch's count on the calling thread.
TEST(ThreadGovernor, FollowsTheLoadOtherProcessesPutOnTheMachine) {
  std::vector<CpuSample> script = {
      {0.0, 0.0, 0.0, true},    // constructed
      {1.0, 0.1, 0.05, true},   // idle: 0.05 cores taken by others -> 2
      {2.0, 1.6, 1.05, true},   // we used 1 CPU-second, others 0.5 -> round(1.5) = 2
      {3.0, 3.6, 2.05, true},   // others 1.0 -> 1
      {3.1, 3.8, 2.15, true},   // 0.1 s: too short, keep 1
      {4.0, 5.0, 2.8, true},    // since 3.0: 1.4 busy - 0.75 own = 0.65 others -> 1
      {5.0, 5.2, 3.8, true},    // others 0 -> 2
      {6.0, 0.0, 0.0, false},   // /proc/stat unreadable: keep 2
  };
  std::size_t next = 0;
  apply_threads(2);
  ThreadGovernor governor(2, [&] { return script.at(next++); }, 2);
  EXPECT_EQ(governor.threads(), 2);
  const std::vector<int> expected = {2, 2, 1, 1, 1, 2, 2};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(governor.update(), expected[i]) << "update " << i;
    EXPECT_EQ(at::get_num_threads(), expected[i]) << "update " << i;
  }
  EXPECT_EQ(governor.changes(), 2);
  apply_threads(available_cores());
}

// The first decision needs a window of 0.1 s, later ones 0.25 s: scoring's first look comes after the model's load
// and the first batch's decoding, and a first batch at every core beside busy processes was measurably slower.
TEST(ThreadGovernor, TheFirstDecisionTakesAShorterWindow) {
  std::vector<CpuSample> script = {
      {0.0, 0.0, 0.0, true},     // constructed
      {0.05, 0.1, 0.05, true},   // 0.05 s: too short even for the first decision, keep 2
      {0.15, 0.3, 0.15, true},   // 0.15 s since construction: others (0.3 - 0.15) / 0.15 = 1.0 -> 1
      {0.30, 0.32, 0.17, true},  // 0.15 s, others idle: too short once decided, keep 1
      {0.50, 0.42, 0.27, true},  // 0.35 s since 0.15: others (0.12 - 0.12) / 0.35 = 0 -> 2
  };
  std::size_t next = 0;
  apply_threads(2);
  ThreadGovernor governor(2, [&] { return script.at(next++); }, 2);
  const std::vector<int> expected = {2, 1, 1, 2};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(governor.update(), expected[i]) << "update " << i;
  EXPECT_EQ(governor.changes(), 2);
  apply_threads(available_cores());
}

// The real sampler counts children spinning on every core as other processes' load (the window starts after the
// children are running: forking them one after another takes a while on a machine with many cores; the tolerance
// grows with the core count, as one sample of many cores can miss a few ticks). threads_for_load_now (the start of
// a training run) measures the same.
TEST(ThreadGovernor, SpinningChildrenCountAsOthersLoadOnABusyMachine) {
  const int cores = available_cores();
  test::SpinningChildren children(cores);
  ASSERT_EQ(children.started(), static_cast<std::size_t>(cores));
  usleep(100 * 1000);
  const CpuSample before = sample_cpu();
  ASSERT_TRUE(before.valid);
  usleep(600 * 1000);
  const CpuSample after = sample_cpu();
  double at_start = -1;
  const int start_threads = threads_for_load_now(cores, 0.3, &at_start);
  children.stop();
  const double others = others_busy_cores(before, after);
  const double tolerance = std::max(0.5, 0.05 * cores);
  const int most = std::max(1, static_cast<int>(std::lround(0.05 * cores)));
  EXPECT_GE(others, cores - tolerance) << "children spinning on all " << cores << " cores";
  EXPECT_LE(threads_for_load(cores, cores, others), most);
  EXPECT_GE(at_start, cores - tolerance);
  EXPECT_GE(start_threads, 1);
  EXPECT_LE(start_threads, most);
}
