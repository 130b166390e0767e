#include "hawkeye/core/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <mutex>

#include "hawkeye/core/error.h"
#include "hawkeye/core/progress.h"

namespace hawkeye {

namespace {

// stderr's colour sink, stepping around a visible progress bar: the bar's line is cleared before a log line and
// the bar drawn again after it (core/progress.h), so log lines never land inside the bar.
class ProgressAwareSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ProgressAwareSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    Progress::before_log_line();
    inner_->log(msg);
    inner_->flush();
    Progress::after_log_line();
  }
  void flush_() override { inner_->flush(); }
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override { inner_->set_formatter(std::move(formatter)); }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace

void log_setup(std::string_view level, bool quiet) {
  static const bool installed = [] {
    auto sink = std::make_shared<ProgressAwareSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    auto logger = std::make_shared<spdlog::logger>("hawkeye", sink);
    logger->set_pattern("%^[%l]%$ %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)installed;
  auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for it.
  if (lvl == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::invalid_argument,
                "unknown log level '" + std::string(level) + "' (use trace, debug, info, warn, error or off)");
  }
  spdlog::set_level(quiet ? spdlog::level::err : lvl);
}

}  // namespace hawkeye
