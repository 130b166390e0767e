// A progress bar on stderr: count, rate and ETA. Silent when stderr is not a terminal, under CI=true,
// or when disabled; then it logs nothing at all (the caller logs a summary).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace hawkeye {

class Progress {
 public:
  // total = 0 means unknown (no ETA). enabled = false forces silence.
  Progress(std::string label, std::uint64_t total, bool enabled = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::uint64_t n = 1);  // thread-safe
  void finish();                      // draws the final state and a newline (once)
  std::uint64_t done() const { return done_.load(); }
  bool visible() const { return visible_; }

  // True when a bar would be drawn: stderr is a TTY and CI is not set.
  static bool terminal_allows();

 private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_;
  bool visible_;
  bool finished_ = false;
  std::atomic<std::uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

}  // namespace hawkeye
