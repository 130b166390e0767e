// The counters of `hawkeye serve`, written in Prometheus' text format (version 0.0.4) at GET /metrics:
// requests by route and status, errors by hawkeye error code, request latency and model batch sizes as
// histograms, images scored and the recent images/s, queue depth and requests in flight. Thread-safe.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hawkeye::serve {

class ServeMetrics {
 public:
  ServeMetrics();

  // One answered request: its route ("/v1/score", or "other" for unknown paths), HTTP status, seconds taken.
  void record_request(std::string_view route, int status, double seconds);
  // One failure by hawkeye error code name ("corrupt_data", "limit_exceeded", ...) or a server condition
  // ("queue_full", "payload_too_large", "not_found", "draining", "bad_request").
  void record_error(std::string_view code);
  // One model batch of `images` images that took `seconds`.
  void record_batch(std::size_t images, double seconds);
  void set_queue_depth(std::size_t images);
  void add_in_flight(int delta);

  // The exposition text; `model` labels hawkeye_model_info.
  std::string prometheus(std::string_view model) const;

  static const std::vector<double>& latency_buckets();  // seconds
  static const std::vector<double>& batch_buckets();    // images

 private:
  struct Histogram {
    std::vector<std::uint64_t> counts;  // per bucket (not cumulative), one more for +Inf
    double sum = 0;
    std::uint64_t total = 0;
    void observe(const std::vector<double>& bounds, double value);
  };
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point started_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, std::uint64_t> errors_;
  std::map<std::string, Histogram> latency_;  // by route
  Histogram batch_sizes_;
  std::uint64_t images_ = 0;
  double model_seconds_ = 0;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::size_t>> recent_;  // batches of the last minute
  std::size_t queue_depth_ = 0;
  int in_flight_ = 0;
};

}  // namespace hawkeye::serve
