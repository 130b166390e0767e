#include "hawkeye/core/threads.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <fstream>
#include <opencv2/core.hpp>
#include <thread>

extern "C" {
// OpenMP's runtime, when one is linked (libgomp through OpenBLAS-openmp or torch). Weak: may be absent.
void omp_set_num_threads(int) __attribute__((weak));
int omp_get_max_threads() __attribute__((weak));
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

OpenMPThreadsWhile::OpenMPThreadsWhile(int n, bool on) {
  if (!on || !omp_set_num_threads || !omp_get_max_threads) return;
  previous_ = omp_get_max_threads();
  omp_set_num_threads(std::max(1, n));
}

OpenMPThreadsWhile::~OpenMPThreadsWhile() {
  if (previous_ > 0) omp_set_num_threads(previous_);
}

namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace

std::optional<double> proc_stat_busy_seconds(std::string_view text, const std::vector<int>& cpus, double ticks_per_second) {
  if (ticks_per_second <= 0) return std::nullopt;
  double ticks = 0;
  std::size_t matched = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream in(line);
    std::string name;
    in >> name;
    bool wanted = false;
    if (cpus.empty()) {
      wanted = name == "cpu";
    } else if (name.size() > 3) {
      const std::string digits = name.substr(3);
      if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
      const int id = std::atoi(digits.c_str());
      wanted = std::find(cpus.begin(), cpus.end(), id) != cpus.end();
    }
    if (!wanted) continue;
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    double f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int got = 0;
    while (got < 8 && in >> f[got]) ++got;
    if (got < 4) continue;
    ticks += f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    ++matched;
  }
  if (matched == 0) return std::nullopt;
  return ticks / ticks_per_second;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

CpuSample sample_cpu() {
  CpuSample s;
  s.wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  s.self = process_cpu_seconds();
  std::ifstream stat("/proc/stat");
  if (!stat) return s;
  std::ostringstream text;
  text << stat.rdbuf();
  static const std::vector<int> cpus = allowed_cpus();
  const auto busy = proc_stat_busy_seconds(text.str(), cpus, static_cast<double>(sysconf(_SC_CLK_TCK)));
  if (!busy) return s;
  s.busy = *busy;
  s.valid = true;
  return s;
}

double others_busy_cores(const CpuSample& before, const CpuSample& after) {
  if (!before.valid || !after.valid) return -1;
  const double wall = after.wall - before.wall;
  if (!(wall >= 0.05)) return -1;  // /proc/stat counts in 10 ms ticks: shorter windows say nothing
  const double others = (after.busy - before.busy) - (after.self - before.self);
  return std::max(0.0, others / wall);
}

int threads_for_load(int max_threads, int cores, double others) {
  max_threads = std::max(1, max_threads);
  if (!(others >= 0) || cores <= 0) return max_threads;
  const double free_cores = static_cast<double>(cores) - others;
  const int n = static_cast<int>(std::floor(free_cores + 0.5));
  return std::clamp(n, 1, max_threads);
}

int threads_for_load_now(int max_threads, double window_seconds, double* others) {
  const int max = resolve_thread_count(max_threads);
  const CpuSample before = sample_cpu();
  std::this_thread::sleep_for(std::chrono::duration<double>(std::clamp(window_seconds, 0.05, 10.0)));
  const double busy = others_busy_cores(before, sample_cpu());
  if (others) *others = busy;
  return busy < 0 ? max : threads_for_load(max, available_cores(), busy);
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
