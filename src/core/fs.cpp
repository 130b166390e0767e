#include "hawkeye/core/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "hawkeye/core/error.h"

namespace hawkeye {

static std::string errno_text() { return std::strerror(errno); }

std::string read_file(const fs::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  // A name longer than PATH_MAX, a component that is a file, a folder without search permission: say so,
  // not "no such file".
  if (ec && ec != std::errc::no_such_file_or_directory) throw Error(ErrorCode::io, path.string() + ": cannot read: " + ec.message());
  if (ec || !fs::exists(st)) throw Error(ErrorCode::not_found, path.string() + ": no such file");
  if (fs::is_directory(st)) throw Error(ErrorCode::invalid_argument, path.string() + ": is a directory, not a file");
  if (!fs::is_regular_file(st)) throw Error(ErrorCode::invalid_argument, path.string() + ": not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(ErrorCode::io, path.string() + ": cannot read size: " + ec.message());
  if (size > max_bytes) {
    throw Error(ErrorCode::limit_exceeded, path.string() + ": file is " + std::to_string(size) +
                                               " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, path.string() + ": cannot open: " + errno_text());
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) {
    throw Error(ErrorCode::io, path.string() + ": short read (" + std::to_string(in.gcount()) + " of " +
                                   std::to_string(size) + " bytes)");
  }
  return data;
}

fs::path temp_sibling(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  fs::path p = path;
  p += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  return p;
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow it
  ::fsync(fd);
  ::close(fd);
}

namespace {
// An ostream over a POSIX fd, so we can fsync before rename.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int sync() override { return flush_buffer() ? 0 : -1; }
  bool ok() const { return ok_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (ch != traits_type::eof()) {
      *pptr() = static_cast<char>(ch);
      pbump(1);
    }
    return ch;
  }

 private:
  bool flush_buffer() {
    const char* p = pbase();
    std::size_t n = pptr() - pbase();
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        ok_ = false;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    setp(buf_, buf_ + sizeof buf_);
    return true;
  }
  int fd_;
  bool ok_ = true;
  char buf_[1 << 16];
};
}  // namespace

struct AtomicFile::Stream {
  explicit Stream(int fd) : buf(fd), out(&buf) {}
  FdBuf buf;
  std::ostream out;
};

AtomicFile::AtomicFile(const fs::path& path) : path_(path), tmp_(temp_sibling(path)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(ErrorCode::io, tmp_.string() + ": cannot create: " + errno_text());
  stream_ = std::make_unique<Stream>(fd_);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  stream_.reset();
  ::close(fd_);
  std::error_code ec;
  fs::remove(tmp_, ec);
}

std::ostream& AtomicFile::stream() { return stream_->out; }

void AtomicFile::commit() {
  require(fd_ >= 0, ErrorCode::internal, path_.string() + ": committed twice");
  stream_->out.flush();
  if (!stream_->out || !stream_->buf.ok()) throw Error(ErrorCode::io, tmp_.string() + ": write failed: " + errno_text());
  if (::fsync(fd_) != 0) throw Error(ErrorCode::io, tmp_.string() + ": fsync failed: " + errno_text());
  stream_.reset();
  const int fd = fd_;
  fd_ = -1;  // close releases the descriptor even when it reports an error
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    std::error_code ec;
    fs::remove(tmp_, ec);
    throw Error(ErrorCode::io, tmp_.string() + ": close failed: " + why);
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    std::error_code ec;
    fs::remove(tmp_, ec);
    throw Error(ErrorCode::io, path_.string() + ": cannot rename temporary file into place: " + why);
  }
  fsync_directory(path_.parent_path());
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& writer) {
  AtomicFile file(path);
  writer(file.stream());
  file.commit();
}

void write_file_atomic(const fs::path& path, std::string_view data) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(data.data(), static_cast<std::streamsize>(data.size())); });
}

namespace {

// The PID in "<name>.tmp-<pid>-<counter>…", or 0 when the name is not a temporary of temp_sibling's form.
pid_t temporary_owner(const std::string& name, std::string_view of) {
  const auto at = name.rfind(".tmp-");
  if (at == std::string::npos || at == 0) return 0;
  if (!of.empty() && (at != of.size() || name.compare(0, of.size(), of) != 0)) return 0;
  const auto digit = [&](std::size_t i) { return i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); };
  const std::size_t first = at + 5;
  std::size_t end = first;
  while (digit(end)) ++end;
  if (end == first || end - first > 9 || end >= name.size() || name[end] != '-' || !digit(end + 1)) return 0;
  return static_cast<pid_t>(std::stol(name.substr(first, end - first)));
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::vector<fs::path> remove_stale_temporaries(const fs::path& dir, std::string_view of) {
  std::vector<fs::path> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const pid_t pid = temporary_owner(entry.path().filename().string(), of);
    if (pid != 0 && pid != ::getpid() && !process_alive(pid)) stale.push_back(entry.path());
  }
  for (const auto& p : stale) {
    fs::remove_all(p, ec);
    if (!ec) removed.push_back(p);
  }
  return removed;
}

void publish_directory(const fs::path& tmp_dir, const fs::path& final_dir) {
  std::error_code ec;
  fs::path old;
  if (fs::exists(final_dir, ec)) {
    old = temp_sibling(final_dir);
    old += ".old";
    fs::rename(final_dir, old, ec);
    if (ec) throw Error(ErrorCode::io, final_dir.string() + ": cannot move the previous version aside: " + ec.message());
  }
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) {
    std::error_code ec2;
    if (!old.empty()) fs::rename(old, final_dir, ec2);  // put the previous version back
    throw Error(ErrorCode::io, final_dir.string() + ": cannot publish directory: " + ec.message());
  }
  fsync_directory(final_dir.parent_path());
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace hawkeye
