// The start-up BLAS check (model/runtime.h): it decides from the library that is loaded, and its speed
// measurement (per CPU-second) does not call a fast BLAS slow when other processes keep every core busy.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "hawkeye/core/threads.h"
#include "hawkeye/model/runtime.h"

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
  std::vector<pid_t> children;
  for (int i = 0; i < 2 * available_cores(); ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(60);  // never outlive the test
      volatile unsigned long x = 0;
      for (;;) x = x + 1;
    }
    children.push_back(pid);
  }
  usleep(200 * 1000);
  BlasCheck busy;
  for (int i = 0; i < 3; ++i) {
    busy = check_blas(false);
    EXPECT_FALSE(busy.slow) << busy.gflops_per_cpu_second << " GFLOP per CPU-second (wall: " << busy.gflops << ")";
  }
  for (const pid_t pid : children) kill(pid, SIGKILL);
  for (const pid_t pid : children) waitpid(pid, nullptr, 0);
  EXPECT_EQ(busy.kind, BlasKind::fast);
  EXPECT_GT(busy.gflops_per_cpu_second, 6.0);
  std::printf("BLAS probe: idle %.1f GFLOP/s wall, %.1f per CPU-second; busy %.1f wall, %.1f per CPU-second\n", idle.gflops,
              idle.gflops_per_cpu_second, busy.gflops, busy.gflops_per_cpu_second);
}
