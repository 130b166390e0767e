// One writer per run directory or output file: an exclusive flock(2) on a lock file, held for the life of a
// PathLock. The lock file holds the owner's PID, so a second process can say who is using the path. The kernel
// drops the lock when its owner dies (even by SIGKILL), so a stale lock file never blocks a later run.
#pragma once
#include <filesystem>
#include <string>

namespace hawkeye {

class PathLock {
 public:
  // Takes the lock on `lock_file` (created when missing; its folder must exist) without waiting. `what` names
  // the thing it protects in the error. Errors: in_use ("<what> is in use by PID N"), io (cannot create it).
  PathLock(const std::filesystem::path& lock_file, const std::string& what);
  ~PathLock();  // removes the lock file, then releases the lock
  PathLock(const PathLock&) = delete;
  PathLock& operator=(const PathLock&) = delete;
  PathLock(PathLock&& other) noexcept;
  PathLock& operator=(PathLock&& other) noexcept;

  const std::filesystem::path& file() const { return file_; }

 private:
  void release() noexcept;
  std::filesystem::path file_;
  int fd_ = -1;
};

// The lock of a directory (a training run, an evaluation's --out): DIR/.lock. Creates DIR when missing.
PathLock lock_directory(const std::filesystem::path& dir, const std::string& what);

// The lock of an output file: FILE.lock beside it.
PathLock lock_output_file(const std::filesystem::path& file, const std::string& what);

}  // namespace hawkeye
