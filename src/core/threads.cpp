#include "hawkeye/core/threads.h"

#include <sched.h>

#include <fstream>
#include <opencv2/core.hpp>
#include <thread>

extern "C" {
// OpenMP's runtime, when one is linked (libgomp through OpenBLAS-openmp or torch). Weak: may be absent.
void omp_set_num_threads(int) __attribute__((weak));
}

namespace hawkeye {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

int resolve_thread_count(int requested) { return requested > 0 ? requested : available_cores(); }

int apply_base_threads(int n) {
  n = resolve_thread_count(n);
  cv::setNumThreads(n);
  if (omp_set_num_threads) omp_set_num_threads(n);
  return n;
}

std::string loaded_blas_library() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::string found;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const auto base = path.substr(path.rfind('/') + 1);
    if (base.rfind("libblas.so", 0) == 0 || base.rfind("libopenblas", 0) == 0 || base.rfind("libmkl_rt", 0) == 0) {
      // Prefer the real OpenBLAS object over the libblas.so.3 alternative link when both show.
      if (found.empty() || path.find("openblas") != std::string::npos) found = path;
    }
  }
  return found;
}

}  // namespace hawkeye
