#include "hawkeye/model/runtime.h"

#include <torch/torch.h>

#include <chrono>
#include <mutex>

#include "hawkeye/core/log.h"
#include "hawkeye/core/threads.h"

namespace hawkeye {

std::string torch_version() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
#endif
}

int apply_threads(int n) {
  n = apply_base_threads(n);
  at::set_num_threads(n);
  static std::once_flag interop;
  std::call_once(interop, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const c10::Error&) {
      // already started by an earlier parallel op; harmless
    }
  });
  return n;
}

BlasCheck check_blas(bool warn) {
  BlasCheck check;
  torch::NoGradGuard no_grad;
  const auto a = torch::rand({512, 512});
  const auto b = torch::rand({512, 512});
  auto c = torch::mm(a, b);  // warm-up: loads and initialises the BLAS
  check.library = loaded_blas_library();
  const int reps = 4;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) c = torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check.gflops = reps * 2.0 * 512 * 512 * 512 / s / 1e9;
  const bool reference = check.library.find("/blas/") != std::string::npos;  // netlib's libblas
  const bool pthread = check.library.find("openblas-pthread") != std::string::npos;
  check.slow = reference || check.gflops < 15.0;
  static std::once_flag warned;
  if (warn && (check.slow || pthread)) {
    std::call_once(warned, [&] {
      spdlog::warn(
          "BLAS in use: {} ({:.1f} GFLOP/s for a 512x512 matmul). This is {}. Install and select OpenBLAS (OpenMP): "
          "apt-get install libopenblas0-openmp && update-alternatives --set libblas.so.3-x86_64-linux-gnu "
          "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 (see scripts/setup.sh)",
          check.library.empty() ? "unknown" : check.library, check.gflops,
          reference ? "the slow reference BLAS" : pthread ? "the pthread OpenBLAS, which fights OpenMP for cores" : "far too slow");
    });
  }
  return check;
}

}  // namespace hawkeye
