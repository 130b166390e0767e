// File helpers: bounded reads and atomic writes (temp file + fsync + rename, so a crash never leaves
// a half-written file behind; the old file stays intact until the new one is complete).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// A file that appears at `path` only when complete: the stream goes to a temporary sibling that commit()
// fsyncs and renames over path (streamed output: the old file, or an input of the same name, stays intact
// until then). Destroyed without commit(), the temporary is removed and path is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(const fs::path& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  std::ostream& stream();
  void commit();  // errors: io, naming the file and the reason
  const fs::path& temporary() const { return tmp_; }

 private:
  struct Stream;
  fs::path path_, tmp_;
  int fd_ = -1;
  std::unique_ptr<Stream> stream_;
};

// Renames a fully written directory tmp_dir to final_dir atomically, replacing an existing final_dir
// (the old one is moved aside first and removed after the rename). Both must be on one filesystem.
void publish_directory(const fs::path& tmp_dir, const fs::path& final_dir);

// fsync on a directory, so a rename inside it is durable.
void fsync_directory(const fs::path& dir);

// A unique temporary sibling name for path: "<name>.tmp-<pid>-<counter>".
fs::path temp_sibling(const fs::path& path);

// Removes what a process that died mid-write left in `dir`: entries named "<name>.tmp-<pid>-<counter>…"
// (files or folders, see temp_sibling) whose process is gone; with `of`, only temporaries of that <name>.
// Temporaries of live processes (this one included) are kept. Returns the paths removed.
std::vector<fs::path> remove_stale_temporaries(const fs::path& dir, std::string_view of = "");

}  // namespace hawkeye
