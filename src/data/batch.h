// Private: helpers for the batch builders (synth, pairs): fast file writes and serial OpenCV inside their workers
// (the worker pool itself is the base layer's parallel_for, hawkeye/core/parallel.h).
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

#include "hawkeye/core/parallel.h"

namespace hawkeye {

// Writes bytes to "<path>.tmp-<pid>-<n>" and renames it over path: readers never see a half-written file,
// but, unlike write_file_atomic, there is no fsync (thousands of images per run; the manifest written last
// with write_file_atomic is the commit point). Errors: io.
void write_file_fast(const std::filesystem::path& path, std::string_view bytes);

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
