#include "hawkeye/model/architecture.h"

#include "hawkeye/core/error.h"

namespace hawkeye::model {

const std::vector<Architecture>& architectures() {
  // A new architecture: its entry function here, declared in architecture.h (docs/adding-a-model.md).
  static const std::vector<Architecture> table{tiny_vlm_architecture(), qwen2_5_vl_architecture()};
  return table;
}

const Architecture* find_architecture(const std::string& name) {
  for (const auto& a : architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const Architecture& architecture(const std::string& name, const std::string& source) {
  if (const auto* a = find_architecture(name)) return *a;
  throw Error(ErrorCode::unsupported, source + ": architecture '" + name + "' is not supported by this build");
}

std::string architecture_name(const nlohmann::json& config) {
  if (!config.is_object()) return {};
  if (auto it = config.find("architecture"); it != config.end() && it->is_string()) return it->get<std::string>();
  if (auto it = config.find("architectures"); it != config.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    return (*it)[0].get<std::string>();
  }
  return {};
}

}  // namespace hawkeye::model
