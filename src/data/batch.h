// Private: helpers for the batch builders (synth, pairs): a worker pool and fast file writes.
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

namespace hawkeye {

// Writes bytes to "<path>.tmp-<pid>-<n>" and renames it over path: readers never see a half-written file,
// but, unlike write_file_atomic, there is no fsync (thousands of images per run; the manifest written last
// with write_file_atomic is the commit point). Errors: io.
void write_file_fast(const std::filesystem::path& path, std::string_view bytes);

// Runs job(i) for i in [0, n) on `threads` threads (the caller's included). The first exception stops the
// remaining jobs and is rethrown after all threads joined. after_each (optional) runs after every
// successful job, e.g. to advance a progress bar.
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

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& job,
                  const std::function<void()>& after_each = {});

}  // namespace hawkeye
