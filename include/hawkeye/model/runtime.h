// Torch runtime settings: intra-op threads and a start-up check that the BLAS behind torch is a fast one.
#pragma once
#include <string>

namespace hawkeye {

std::string torch_version();  // e.g. "1.13.1"

// Sets torch's intra-op threads (and OpenCV/OpenMP through apply_base_threads). n <= 0 = all cores.
// Inter-op threads are fixed to 1 once: hawkeye does not run independent torch ops concurrently.
int apply_threads(int n);

struct BlasCheck {
  std::string library;     // path of the BLAS mapped into the process ("" when unknown)
  double gflops = 0;       // measured float32 512x512 matmul throughput
  bool slow = false;       // far below what OpenBLAS gives on this machine class
};

// Times a 512x512 float32 matmul through torch (a few ms). Logs a one-time warning with the fix when
// the reference (netlib) BLAS or the pthread OpenBLAS is in use, or when the measured speed is far too low.
BlasCheck check_blas(bool warn = true);

}  // namespace hawkeye
