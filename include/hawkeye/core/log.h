// Logging: spdlog, one logger on stderr. Levels: trace, debug, info, warn, error, off.
#pragma once
#include <spdlog/spdlog.h>
#include <string_view>

namespace hawkeye {

// Sets the level from a name ("info", "debug", ...); throws Error(invalid_argument) on an unknown name.
// quiet = only errors.
void log_setup(std::string_view level, bool quiet);

}  // namespace hawkeye
