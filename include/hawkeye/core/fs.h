// File helpers: bounded reads and atomic writes (temp file + fsync + rename, so a crash never leaves
// a half-written file behind; the old file stays intact until the new one is complete).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace hawkeye {

namespace fs = std::filesystem;

// Reads a whole regular file. Errors: not_found (missing), invalid_argument (a directory or not a
// regular file), limit_exceeded (larger than max_bytes), io (read failure).
std::string read_file(const fs::path& path, std::uint64_t max_bytes = UINT64_MAX);

// Writes data to path atomically.
void write_file_atomic(const fs::path& path, std::string_view data);

// Streams content into a temporary file beside path, then fsyncs and renames it over path. If writer
// throws, the temporary file is removed, path is untouched, and the exception propagates.
void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& writer);

// Renames a fully written directory tmp_dir to final_dir atomically, replacing an existing final_dir
// (the old one is moved aside first and removed after the rename). Both must be on one filesystem.
void publish_directory(const fs::path& tmp_dir, const fs::path& final_dir);

// fsync on a directory, so a rename inside it is durable.
void fsync_directory(const fs::path& dir);

// A unique temporary sibling name for path: "<name>.tmp-<pid>-<counter>".
fs::path temp_sibling(const fs::path& path);

}  // namespace hawkeye
