// Thread settings. hawkeye decides the thread count on purpose (default: the cores this process may use)
// and hands it to every pool it uses, so OpenCV, OpenMP/BLAS and torch do not oversubscribe the machine.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

// Cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Resolves a requested count: <= 0 means available_cores().
int resolve_thread_count(int requested);

// Applies n threads to OpenCV's pool and to OpenMP (which OpenBLAS-openmp uses). The torch layer adds
// its own intra-op setting (see hawkeye/model/runtime.h). Returns n.
int apply_base_threads(int n);

// While alive, the calling thread's OpenMP thread count is n (OpenMP keeps one per thread; libtorch's and
// oneDNN's parallel regions read it); the previous count comes back on destruction. `on == false`, or no OpenMP
// runtime linked: nothing changes.
class OpenMPThreadsWhile {
 public:
  explicit OpenMPThreadsWhile(int n, bool on = true);
  ~OpenMPThreadsWhile();
  OpenMPThreadsWhile(const OpenMPThreadsWhile&) = delete;
  OpenMPThreadsWhile& operator=(const OpenMPThreadsWhile&) = delete;

 private:
  int previous_ = 0;  // 0: nothing to give back
};

// How busy the machine's CPUs are, for choosing a thread count that does not fight other processes.
// A sample: wall clock, busy CPU time of the cores this process may use (from /proc/stat), and this process's
// own CPU time, all in seconds. valid = false where /proc/stat cannot be read (the count then stays fixed).
struct CpuSample {
  double wall = 0, busy = 0, self = 0;
  bool valid = false;
};
CpuSample sample_cpu();

// CPU time this process has used, all its threads, in seconds (CLOCK_PROCESS_CPUTIME_ID).
double process_cpu_seconds();

// Busy CPU seconds in /proc/stat text: user + nice + system + irq + softirq + steal of the lines "cpuN" for N in
// `cpus` (empty: the machine's "cpu" line). Niced processes count: where every job runs in its own cgroup (systemd
// scopes, containers, CI runners), a nice-19 process still takes its cgroup's full share of a core. Empty when
// no line matched.
std::optional<double> proc_stat_busy_seconds(std::string_view text, const std::vector<int>& cpus, double ticks_per_second);

// Cores that other processes kept busy between two samples: (busy - own CPU time) / wall, at least 0;
// negative when unknown (a sample invalid, or too short to say).
double others_busy_cores(const CpuSample& before, const CpuSample& after);

// Threads to use on `cores` cores when other processes keep `others` of them busy: the free cores rounded to the
// nearest whole one, at least 1 and at most max_threads. Threads that meet at barriers (OpenMP, BLAS) are only as
// fast as the most descheduled one, so a core that is more than half taken is not worth a thread.
int threads_for_load(int max_threads, int cores, double others);

// The count a job that keeps one count throughout (a training run) starts with: threads_for_load over the load of
// the next `window` seconds (this process idle meanwhile), at most max_threads (<= 0: all cores). Where the load
// cannot be read, max_threads. `others` (optional) receives the busy cores measured, negative when unknown.
int threads_for_load_now(int max_threads, double window_seconds = 0.5, double* others = nullptr);

// Path of the BLAS library mapped into this process ("" if none is loaded yet), from /proc/self/maps.
std::string loaded_blas_library();

}  // namespace hawkeye
