#include "hawkeye/serve/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace hawkeye::serve {

namespace {

constexpr std::chrono::seconds kRateWindow{60};

// Label values are quoted; backslash, quote and newline are escaped (the exposition format's rules).
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string bound(double b) { return fmt::format("{}", b); }

}  // namespace

ServeMetrics::ServeMetrics() : started_(std::chrono::steady_clock::now()) {}

const std::vector<double>& ServeMetrics::latency_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return b;
}

const std::vector<double>& ServeMetrics::batch_buckets() {
  static const std::vector<double> b = {1, 2, 4, 8, 16, 32, 64, 128};
  return b;
}

void ServeMetrics::Histogram::observe(const std::vector<double>& bounds, double value) {
  if (counts.empty()) counts.assign(bounds.size() + 1, 0);
  const auto at = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++counts[static_cast<std::size_t>(at)];
  sum += value;
  ++total;
}

void ServeMetrics::record_request(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), status}];
  latency_[std::string(route)].observe(latency_buckets(), seconds);
}

void ServeMetrics::record_error(std::string_view code) {
  std::lock_guard lock(mutex_);
  ++errors_[std::string(code)];
}

void ServeMetrics::record_batch(std::size_t images, double seconds) {
  std::lock_guard lock(mutex_);
  batch_sizes_.observe(batch_buckets(), static_cast<double>(images));
  images_ += images;
  model_seconds_ += seconds;
  const auto now = std::chrono::steady_clock::now();
  recent_.emplace_back(now, images);
  while (!recent_.empty() && now - recent_.front().first > kRateWindow) recent_.pop_front();
}

void ServeMetrics::set_queue_depth(std::size_t images) {
  std::lock_guard lock(mutex_);
  queue_depth_ = images;
}

void ServeMetrics::add_in_flight(int delta) {
  std::lock_guard lock(mutex_);
  in_flight_ += delta;
}

std::string ServeMetrics::prometheus(std::string_view model) const {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const double uptime = std::chrono::duration<double>(now - started_).count();
  std::size_t recent_images = 0;
  for (const auto& [when, n] : recent_)
    if (now - when <= kRateWindow) recent_images += n;
  const double window = std::clamp(uptime, 1e-9, static_cast<double>(kRateWindow.count()));

  std::string out;
  auto histogram = [&](const std::string& name, const std::string& labels, const Histogram& h, const std::vector<double>& bounds) {
    std::uint64_t cumulative = 0;
    const std::string sep = labels.empty() ? "" : labels + ",";
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += h.counts.empty() ? 0 : h.counts[i];
      out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, sep, bound(bounds[i]), cumulative);
    }
    out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, sep, h.total);
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, h.sum, name, braces, h.total);
  };

  out += "# HELP hawkeye_model_info The model this server scores with.\n# TYPE hawkeye_model_info gauge\n";
  out += fmt::format("hawkeye_model_info{{model=\"{}\"}} 1\n", label(model));
  out += "# HELP hawkeye_uptime_seconds Seconds since the server started.\n# TYPE hawkeye_uptime_seconds gauge\n";
  out += fmt::format("hawkeye_uptime_seconds {:.3f}\n", uptime);
  out += "# HELP hawkeye_requests_total HTTP requests answered, by route and status.\n# TYPE hawkeye_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("hawkeye_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label(key.first), key.second, n);
  out += "# HELP hawkeye_errors_total Failed requests and images, by hawkeye error code or server condition.\n"
         "# TYPE hawkeye_errors_total counter\n";
  for (const auto& [code, n] : errors_) out += fmt::format("hawkeye_errors_total{{code=\"{}\"}} {}\n", label(code), n);
  out += "# HELP hawkeye_request_duration_seconds Time from the request's arrival to its response, by route.\n"
         "# TYPE hawkeye_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_)
    histogram("hawkeye_request_duration_seconds", "route=\"" + label(route) + "\"", h, latency_buckets());
  out += "# HELP hawkeye_batch_size Images per model batch.\n# TYPE hawkeye_batch_size histogram\n";
  histogram("hawkeye_batch_size", "", batch_sizes_, batch_buckets());
  out += "# HELP hawkeye_images_scored_total Images the model scored.\n# TYPE hawkeye_images_scored_total counter\n";
  out += fmt::format("hawkeye_images_scored_total {}\n", images_);
  out += "# HELP hawkeye_model_seconds_total Seconds the scoring thread spent in the model.\n"
         "# TYPE hawkeye_model_seconds_total counter\n";
  out += fmt::format("hawkeye_model_seconds_total {:.6f}\n", model_seconds_);
  out += "# HELP hawkeye_images_per_second Images scored per second over the last minute.\n"
         "# TYPE hawkeye_images_per_second gauge\n";
  out += fmt::format("hawkeye_images_per_second {:.4f}\n", static_cast<double>(recent_images) / window);
  out += "# HELP hawkeye_queue_depth Images waiting for the model.\n# TYPE hawkeye_queue_depth gauge\n";
  out += fmt::format("hawkeye_queue_depth {}\n", queue_depth_);
  out += "# HELP hawkeye_requests_in_flight Scoring requests being handled.\n# TYPE hawkeye_requests_in_flight gauge\n";
  out += fmt::format("hawkeye_requests_in_flight {}\n", in_flight_);
  return out;
}

}  // namespace hawkeye::serve
