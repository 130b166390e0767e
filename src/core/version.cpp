#include "hawkeye/core/version.h"

#include "hawkeye/core/text_util.h"

#include <dlfcn.h>

#include <cstdlib>

namespace hawkeye {

const char* version() { return HAWKEYE_VERSION; }

std::filesystem::path installed_data_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&installed_data_dir), &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  // lexically: "P/lib/../share/hawkeye" is P/share/hawkeye even where P/lib is a symbolic link.
  const std::filesystem::path lib = std::filesystem::absolute(std::filesystem::path(info.dli_fname), ec).parent_path();
  const std::filesystem::path dir = (lib / HAWKEYE_LIB_TO_DATA).lexically_normal();
  return !ec && std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path();
}

std::filesystem::path resource_dir() {
  if (const char* env = std::getenv("HAWKEYE_RESOURCE_DIR"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_directory(HAWKEYE_SOURCE_RESOURCE_DIR, ec)) return HAWKEYE_SOURCE_RESOURCE_DIR;
  if (const auto installed = installed_data_dir(); !installed.empty()) return installed;
  return HAWKEYE_INSTALL_RESOURCE_DIR;
}

std::vector<std::filesystem::path> model_search_path() {
  std::vector<std::filesystem::path> out;
  if (const char* env = std::getenv("HAWKEYE_MODEL_PATH"); env && *env) {
    for (const auto& part : split_on(env, ':'))
      if (!part.empty()) out.emplace_back(part);
  }
  out.emplace_back(HAWKEYE_SOURCE_MODELS_DIR);
  const std::filesystem::path configured(HAWKEYE_INSTALL_MODELS_DIR);
  if (const auto installed = installed_data_dir(); !installed.empty() && installed / "models" != configured) {
    out.push_back(installed / "models");
  }
  out.push_back(configured);
  return out;
}

}  // namespace hawkeye
