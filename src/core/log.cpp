#include "hawkeye/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "hawkeye/core/error.h"

namespace hawkeye {

void log_setup(std::string_view level, bool quiet) {
  static const bool installed = [] {
    auto logger = spdlog::stderr_color_mt("hawkeye");
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
