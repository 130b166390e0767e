#include "data/batch.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <opencv2/core.hpp>
#include <thread>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"

namespace hawkeye {

void write_file_fast(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = temp_sibling(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::io, tmp.string() + ": cannot create: " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::io, tmp.string() + ": write failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(ErrorCode::io, path.string() + ": cannot rename into place: " + why);
  }
}

SerialOpenCvScope::SerialOpenCvScope() : previous_(cv::getNumThreads()) { cv::setNumThreads(1); }
SerialOpenCvScope::~SerialOpenCvScope() { cv::setNumThreads(previous_); }

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& job,
                  const std::function<void()>& after_each) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    while (!stop.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) break;
      try {
        job(i);
        if (after_each) after_each();
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  const std::size_t k = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, std::max<std::size_t>(n, 1));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < k; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace hawkeye
