// A progress bar on stderr: count, rate, ETA and an optional status (a training run's loss and reward). Silent
// when stderr is not a terminal, under CI=true, or when disabled; then it logs nothing at all (the caller logs a
// summary). HAWKEYE_PROGRESS=always draws it on any stderr (a log file), HAWKEYE_PROGRESS=never never does.
//
// The rate and ETA are measured from the first advance, not from construction: the time before the first
// item (loading a model, the first batch) would make every early ETA far too long. Until a second advance, at
// least 1 s after the first, the ETA shows "--:--". Log lines (spdlog, see log.h) clear the bar's line first
// and the bar is drawn again below them, so a log line never lands inside the bar.
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

  void advance(std::uint64_t n = 1);  // thread-safe; advance(0) does nothing
  // Counts n items done before this run (a resumed training run's steps) without measuring them: the rate and
  // ETA are measured from the next advance.
  void skip(std::uint64_t n);
  void set_status(std::string status);  // drawn after the ETA (e.g. "loss 0.412 reward 0.71"); thread-safe
  void finish();                      // draws the final state and a newline (once)
  std::uint64_t done() const { return done_.load(); }
  bool visible() const { return visible_; }

  // True when a bar would be drawn: stderr is a TTY and CI is not set (or HAWKEYE_PROGRESS says so).
  static bool terminal_allows();

  // The rate (items/s) and ETA (s; < 0 = not known yet) drawn for `done` of `total` items, given the count
  // after the first advance and the seconds since construction and since that first advance.
  struct Estimate {
    double rate = 0;
    double eta = -1;
  };
  static Estimate estimate(std::uint64_t done, std::uint64_t total, std::uint64_t first_done, double since_start,
                           double since_first);

  // For the log sink: clear the visible bar's line before a log line, and draw the bar again after it.
  static void before_log_line();
  static void after_log_line();

 private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_;
  bool visible_;
  bool finished_ = false;
  bool drawn_ = false;    // something of the bar is on the current line
  bool logging_ = false;  // a log line is being written: advance() does not draw
  std::atomic<std::uint64_t> done_{0};
  std::uint64_t first_done_ = 0;
  std::atomic<bool> advanced_{false};
  std::string status_;
  std::chrono::steady_clock::time_point start_, first_, last_draw_;
  std::mutex mutex_;
};

}  // namespace hawkeye
