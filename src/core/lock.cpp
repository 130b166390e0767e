#include "hawkeye/core/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "hawkeye/core/error.h"

namespace hawkeye {

namespace {

// The PID written by the lock's owner; empty when it has not written it yet (it takes the lock first).
std::string owner_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
  return pid;
}

}  // namespace

PathLock::PathLock(const std::filesystem::path& lock_file, const std::string& what) : file_(lock_file) {
  // The owner removes the lock file before releasing it: a process that opened the old file and then got
  // the lock finds the path gone (or another file there) and tries again on the new one.
  for (;;) {
    const int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(ErrorCode::io, file_.string() + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string pid = err == EWOULDBLOCK ? owner_pid(fd) : std::string();
      ::close(fd);
      if (err != EWOULDBLOCK) throw Error(ErrorCode::io, file_.string() + ": cannot lock: " + std::strerror(err));
      throw Error(ErrorCode::in_use, what + " is in use by " + (pid.empty() ? std::string("another process") : "PID " + pid) +
                                         " (lock " + file_.string() + "); wait for it to finish or stop it");
    }
    struct stat held {}, now {};
    if (::fstat(fd, &held) == 0 && ::stat(file_.c_str(), &now) == 0 && held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    release();
    throw Error(ErrorCode::io, file_.string() + ": cannot write the lock file: " + std::strerror(err));
  }
}

PathLock::~PathLock() { release(); }

PathLock::PathLock(PathLock&& other) noexcept : file_(std::move(other.file_)), fd_(other.fd_) { other.fd_ = -1; }

PathLock& PathLock::operator=(PathLock&& other) noexcept {
  if (this != &other) {
    release();
    file_ = std::move(other.file_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void PathLock::release() noexcept {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());
  ::close(fd_);
  fd_ = -1;
}

PathLock lock_directory(const std::filesystem::path& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, dir.string() + ": cannot create the directory: " + ec.message());
  return PathLock(dir / ".lock", what);
}

PathLock lock_output_file(const std::filesystem::path& file, const std::string& what) {
  std::filesystem::path lock = file;
  lock += ".lock";
  return PathLock(lock, what);
}

}  // namespace hawkeye
