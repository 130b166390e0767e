// Reading optional integer fields of Qwen2.5-VL's JSON files (config.json, preprocessor_config.json).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "hawkeye/core/error.h"

namespace hawkeye::model {

// j[key] as an integer, `fallback` when absent or null; Error(model) naming the key when it is not one.
inline std::int64_t qwen_json_int(const nlohmann::json& j, const char* key, std::int64_t fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw Error(ErrorCode::model, source + ": '" + key + "' must be an integer");
  return it->get<std::int64_t>();
}

}  // namespace hawkeye::model
