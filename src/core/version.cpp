#include "hawkeye/core/version.h"

#include "hawkeye/core/text_util.h"

#include <cstdlib>

namespace hawkeye {

const char* version() { return HAWKEYE_VERSION; }

std::filesystem::path resource_dir() {
  if (const char* env = std::getenv("HAWKEYE_RESOURCE_DIR"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_directory(HAWKEYE_SOURCE_RESOURCE_DIR, ec)) return HAWKEYE_SOURCE_RESOURCE_DIR;
  return HAWKEYE_INSTALL_RESOURCE_DIR;
}

std::vector<std::filesystem::path> model_search_path() {
  std::vector<std::filesystem::path> out;
  if (const char* env = std::getenv("HAWKEYE_MODEL_PATH"); env && *env) {
    for (const auto& part : split_on(env, ':'))
      if (!part.empty()) out.emplace_back(part);
  }
  out.emplace_back(HAWKEYE_SOURCE_MODELS_DIR);
  out.emplace_back(HAWKEYE_INSTALL_MODELS_DIR);
  return out;
}

}  // namespace hawkeye
