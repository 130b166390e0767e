#include "hawkeye/core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <opencv2/core.hpp>
#include <thread>
#include <vector>

#include "hawkeye/core/threads.h"

namespace hawkeye {

int parallel_workers(std::size_t n, int threads) {
  return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(n, static_cast<std::size_t>(resolve_thread_count(threads)))));
}

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t item, int worker)>& body) {
  if (n == 0) return;
  const int workers = parallel_workers(n, threads);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const auto work = [&](int worker) {
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        body(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  try {
    for (int t = 1; t < workers; ++t) pool.emplace_back(work, t);
  } catch (...) {
    failed = true;  // could not start a thread: stop the ones that run, then report
    for (std::thread& th : pool) th.join();
    throw;
  }
  work(0);
  for (std::thread& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

SerialOpenCvScope::SerialOpenCvScope() : previous_(cv::getNumThreads()) { cv::setNumThreads(1); }
SerialOpenCvScope::~SerialOpenCvScope() { cv::setNumThreads(previous_); }

}  // namespace hawkeye
