#include "hawkeye/core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hawkeye {

bool Progress::terminal_allows() {
  const char* ci = std::getenv("CI");
  if (ci && *ci && std::strcmp(ci, "0") != 0 && std::strcmp(ci, "false") != 0) return false;
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), visible_(enabled && terminal_allows()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::advance(std::uint64_t n) {
  done_.fetch_add(n);
  if (!visible_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (visible_) draw(true);
}

static std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

void Progress::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::uint64_t d = done_.load();
  const double rate = elapsed > 0 ? d / elapsed : 0.0;
  char line[256];
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(d) / total_);
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    const double eta = rate > 0 ? (total_ - std::min(d, total_)) / rate : -1;
    std::snprintf(line, sizeof line, "\r%s [%s] %llu/%llu %5.1f%% %.2f/s %s %s", label_.c_str(), bar.c_str(),
                  (unsigned long long)d, (unsigned long long)total_, frac * 100, rate,
                  final ? "elapsed" : "eta", format_duration(final ? elapsed : eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "\r%s %llu %.2f/s elapsed %s", label_.c_str(), (unsigned long long)d, rate,
                  format_duration(elapsed).c_str());
  }
  std::fputs(line, stderr);
  std::fputs(final ? "\n" : "\x1b[K", stderr);
  std::fflush(stderr);
}

}  // namespace hawkeye
