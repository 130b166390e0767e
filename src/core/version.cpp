#include "hawkeye/core/version.h"

#include <cstdlib>

namespace hawkeye {

const char* version() { return HAWKEYE_VERSION; }

std::filesystem::path resource_dir() {
  if (const char* env = std::getenv("HAWKEYE_RESOURCE_DIR"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_directory(HAWKEYE_SOURCE_RESOURCE_DIR, ec)) return HAWKEYE_SOURCE_RESOURCE_DIR;
  return HAWKEYE_INSTALL_RESOURCE_DIR;
}

}  // namespace hawkeye
