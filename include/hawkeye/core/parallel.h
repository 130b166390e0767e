// One way to spread independent items over threads: parallel_for runs body(i, worker) for every i in [0, n), each
// item on one of `threads` threads (the calling thread is worker 0), taken in increasing order; `worker`
// (0 .. parallel_workers(n, threads) - 1) lets a body keep per-thread state (its own metric objects, a cache). Error policy: the
// first exception a body throws stops the others from taking new items and is rethrown to the caller once every
// thread has stopped; a body that wants to go on after a failure catches its own errors (as `hawkeye metric`
// does, writing the error into the item's record).
#pragma once
#include <cstddef>
#include <functional>

namespace hawkeye {

// How many threads parallel_for(n, threads, ...) uses: threads <= 0 means resolve_thread_count(0) (the cores
// this process may use); never more than n (at least 1).
int parallel_workers(std::size_t n, int threads);

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t item, int worker)>& body);

// While alive, OpenCV's own thread pool runs serially (our workers are the parallelism; nested pools would
// oversubscribe the cores); the previous setting is restored on destruction.
class SerialOpenCvScope {
 public:
  SerialOpenCvScope();
  ~SerialOpenCvScope();
  SerialOpenCvScope(const SerialOpenCvScope&) = delete;
  SerialOpenCvScope& operator=(const SerialOpenCvScope&) = delete;

 private:
  int previous_;
};

}  // namespace hawkeye
