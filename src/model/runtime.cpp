#include "hawkeye/model/runtime.h"

#include <torch/torch.h>

#include <algorithm>
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

ThreadGovernor::ThreadGovernor(int max_threads, Sampler sampler, int cores)
    : max_(std::max(1, resolve_thread_count(max_threads))), cores_(std::max(1, cores)), sampler_(std::move(sampler)) {
  current_ = std::min(max_, std::max(1, at::get_num_threads()));
  last_ = sampler_();
}

int ThreadGovernor::update() {
  const CpuSample now = sampler_();
  if (!now.valid || !last_.valid) {
    last_ = now;
  } else if (now.wall - last_.wall > 5.0) {
    // A long pause (a server between requests, a Python session between calls): the average over it says little
    // about the load now; measure afresh from here and keep the count for this batch.
    last_ = now;
  } else if (now.wall - last_.wall >= (decided_ ? 0.25 : 0.1)) {  // shorter: too short to tell; keep measuring
    // The first decision takes a window from 0.1 s: scoring looks first after the model's load and its first batch's
    // decoding (0.1 - 0.25 s for hawkeye-tiny), and a first batch at every core beside busy processes cost 5 - 15 %.
    const double others = others_busy_cores(last_, now);
    last_ = now;
    decided_ = true;
    const int n = others < 0 ? current_ : threads_for_load(max_, cores_, others);
    if (n != current_) {
      spdlog::debug("threads: {} -> {} (other processes kept {:.2f} of {} cores busy)", current_, n, others, cores_);
      current_ = n;
      ++changes_;
    }
  }
  // OpenMP's count belongs to the calling thread (another thread may call next time): set it where it differs.
  // Only torch's (and through it this thread's OpenMP count, which OpenBLAS follows): OpenCV's pool (TBB) must not
  // be resized while loader threads decode with it — that crashed inside libtbb (bench/contention.sh, busy2).
  // torch's setter also sets process-wide state (its default for new threads, its pthreadpool): governors take
  // turns here (apply_threads, at start-up, does not take this lock).
  if (at::get_num_threads() != current_) {
    static std::mutex set_threads;
    const std::lock_guard lock(set_threads);
    at::set_num_threads(current_);
  }
  return current_;
}

BlasKind classify_blas(const std::string& library) {
  if (library.empty()) return BlasKind::unknown;
  if (library.find("openblas-openmp") != std::string::npos || library.find("libmkl") != std::string::npos) return BlasKind::fast;
  if (library.find("openblas-pthread") != std::string::npos) return BlasKind::pthread;
  if (library.find("/blas/") != std::string::npos) return BlasKind::reference;  // netlib's libblas.so.3
  return BlasKind::unknown;
}

BlasCheck check_blas(bool warn) {
  BlasCheck check;
  torch::NoGradGuard no_grad;
  const auto a = torch::rand({512, 512});
  const auto b = torch::rand({512, 512});
  auto c = torch::mm(a, b);  // warm-up: loads and initialises the BLAS
  check.library = loaded_blas_library();
  check.kind = classify_blas(check.library);
  const int reps = 4;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) c = torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = process_cpu_seconds() - cpu0;
  const double flops = reps * 2.0 * 512 * 512 * 512;
  check.gflops = flops / s / 1e9;
  // Per second of this process's CPU time: a busy machine takes wall time away from the probe, not the work
  // one CPU-second does (the reference BLAS does ~2 GFLOP per CPU-second, OpenBLAS 30-100 on this class of
  // machine). Only this one can say "slow" whatever else runs.
  check.gflops_per_cpu_second = cpu > 0 ? flops / cpu / 1e9 : check.gflops;
  check.slow = check.kind == BlasKind::reference || check.gflops_per_cpu_second < 6.0;
  static std::once_flag warned;
  if (warn && (check.slow || check.kind == BlasKind::pthread)) {
    std::call_once(warned, [&] {
      const std::string lib = check.library.empty() ? "unknown" : check.library;
      if (check.kind == BlasKind::reference || check.kind == BlasKind::pthread || (check.slow && check.kind == BlasKind::unknown)) {
        spdlog::warn(
            "BLAS in use: {} ({:.1f} GFLOP per CPU-second for a 512x512 matmul). This is {}. Install and select OpenBLAS "
            "(OpenMP): apt-get install libopenblas0-openmp && update-alternatives --set libblas.so.3-x86_64-linux-gnu "
            "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 (see scripts/setup.sh)",
            lib, check.gflops_per_cpu_second,
            check.kind == BlasKind::reference ? "the slow reference BLAS"
            : check.kind == BlasKind::pthread ? "the pthread OpenBLAS, which fights OpenMP for cores"
                                              : "far too slow");
      } else {
        // The right library, measured slow per CPU-second: nothing to install; say what was measured.
        spdlog::warn("BLAS in use: {}, but a 512x512 matmul ran at only {:.1f} GFLOP per CPU-second (expected 30 or more): "
                     "the CPU may be throttled or emulated",
                     lib, check.gflops_per_cpu_second);
      }
    });
  }
  return check;
}

}  // namespace hawkeye
