#include "hawkeye/core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hawkeye {

namespace {
// The bar that log lines must step around (the first visible one; bars are not nested in practice).
std::mutex g_active_mutex;
Progress* g_active = nullptr;

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

bool Progress::terminal_allows() {
  if (const char* mode = std::getenv("HAWKEYE_PROGRESS")) {
    if (std::strcmp(mode, "always") == 0) return true;
    if (std::strcmp(mode, "never") == 0) return false;
  }
  const char* ci = std::getenv("CI");
  if (ci && *ci && std::strcmp(ci, "0") != 0 && std::strcmp(ci, "false") != 0) return false;
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), visible_(enabled && terminal_allows()) {
  start_ = first_ = last_draw_ = std::chrono::steady_clock::now();
  if (visible_) {
    std::lock_guard lock(g_active_mutex);
    if (!g_active) g_active = this;
  }
}

Progress::~Progress() { finish(); }

Progress::Estimate Progress::estimate(std::uint64_t done, std::uint64_t total, std::uint64_t first_done, double since_start,
                                      double since_first) {
  Estimate e;
  const bool measured = done > first_done && since_first >= 1.0;
  e.rate = measured ? (done - first_done) / since_first : (since_start > 0 ? done / since_start : 0.0);
  if (total > 0 && measured && e.rate > 0) e.eta = (total - std::min(done, total)) / e.rate;
  if (total > 0 && done >= total) e.eta = 0;
  return e;
}

void Progress::skip(std::uint64_t n) { done_.fetch_add(n); }

void Progress::advance(std::uint64_t n) {
  if (n == 0) return;
  const std::uint64_t d = done_.fetch_add(n) + n;
  if (!visible_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!advanced_.load()) {
    lock.lock();  // the first advance is always recorded
    if (!advanced_.load()) {
      first_ = now;
      first_done_ = d;
      advanced_ = true;
    }
  } else if (!lock.try_lock()) {
    return;
  }
  if (finished_ || logging_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::set_status(std::string status) {
  std::lock_guard lock(mutex_);
  status_ = std::move(status);
}

void Progress::finish() {
  {
    std::lock_guard lock(mutex_);
    if (!finished_) {
      finished_ = true;
      if (visible_) draw(true);
    }
  }
  std::lock_guard lock(g_active_mutex);
  if (g_active == this) g_active = nullptr;
}

void Progress::before_log_line() {
  std::lock_guard lock(g_active_mutex);
  if (!g_active) return;
  std::lock_guard bar(g_active->mutex_);
  g_active->logging_ = true;  // until after_log_line: no redraw between the clearing and the log line
  if (g_active->drawn_ && !g_active->finished_) {
    std::fputs("\r\x1b[K", stderr);
    g_active->drawn_ = false;
  }
}

void Progress::after_log_line() {
  std::lock_guard lock(g_active_mutex);
  if (!g_active) return;
  std::lock_guard bar(g_active->mutex_);
  g_active->logging_ = false;
  if (!g_active->finished_ && g_active->advanced_.load()) g_active->draw(false);
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
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = seconds_between(start_, now);
  const std::uint64_t d = done_.load();
  const Estimate e = estimate(d, total_, first_done_, elapsed, advanced_ ? seconds_between(first_, now) : 0.0);
  char line[256];
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(d) / total_);
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::snprintf(line, sizeof line, "\r%s [%s] %llu/%llu %5.1f%% %.2f/s %s %s", label_.c_str(), bar.c_str(),
                  (unsigned long long)d, (unsigned long long)total_, frac * 100, e.rate,
                  final ? "elapsed" : "eta", format_duration(final ? elapsed : e.eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "\r%s %llu %.2f/s elapsed %s", label_.c_str(), (unsigned long long)d, e.rate,
                  format_duration(elapsed).c_str());
  }
  std::fputs(line, stderr);
  if (!status_.empty()) {
    std::fputs("  ", stderr);
    std::fputs(status_.c_str(), stderr);
  }
  std::fputs(final ? "\n" : "\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = !final;
}

}  // namespace hawkeye
