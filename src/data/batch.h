// Private: a helper of the batch builders (synth, pairs): fast file writes (their worker pool and serial OpenCV
// scope are the base layer's, hawkeye/core/parallel.h).
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

}  // namespace hawkeye
