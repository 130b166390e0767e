// Torch runtime settings: intra-op threads and a start-up check that the BLAS behind torch is a fast one.
#pragma once
#include <string>

namespace hawkeye {

std::string torch_version();  // e.g. "1.13.1"

// Sets torch's intra-op threads (and OpenCV/OpenMP through apply_base_threads). n <= 0 = all cores.
// Inter-op threads are fixed to 1 once: hawkeye does not run independent torch ops concurrently.
int apply_threads(int n);

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
