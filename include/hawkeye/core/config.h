// Configuration: TOML (or JSON) files read into a JSON tree, dotted-key overrides ("train.lr=1e-5"),
// typed lookups whose errors name the file and the key.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/core/error.h"

namespace hawkeye {

class Config {
 public:
  Config() : root_(nlohmann::json::object()) {}
  explicit Config(nlohmann::json root, std::string source = "<config>");

  // Reads a .toml or .json file. Errors: not_found, parse (with line and column for TOML).
  static Config load(const std::filesystem::path& path);
  static Config parse_toml(std::string_view text, std::string source = "<toml>");

  // "a.b.c=value": value is parsed as JSON (numbers, true/false, arrays, quoted strings) and
  // otherwise taken as a plain string. Creates intermediate tables.
  void apply_override(std::string_view assignment);

  bool has(std::string_view dotted) const;
  const nlohmann::json* find(std::string_view dotted) const;

  template <typename T>
  T get(std::string_view dotted, const T& fallback) const {
    const nlohmann::json* v = find(dotted);
    if (!v || v->is_null()) return fallback;
    return convert<T>(*v, dotted);
  }
  template <typename T>
  T require(std::string_view dotted) const {
    const nlohmann::json* v = find(dotted);
    if (!v || v->is_null()) {
      throw Error(ErrorCode::invalid_argument, source_ + ": missing required key '" + std::string(dotted) + "'");
    }
    return convert<T>(*v, dotted);
  }
  void set(std::string_view dotted, nlohmann::json value);

  const nlohmann::json& root() const { return root_; }
  const std::string& source() const { return source_; }
  std::string to_toml() const;

 private:
  template <typename T>
  T convert(const nlohmann::json& v, std::string_view dotted) const {
    try {
      if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        if (!v.is_number()) throw nlohmann::json::type_error::create(302, "expected a number", &v);
      } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (!v.is_number_integer()) {
          if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>())))
            return static_cast<T>(v.get<double>());
          throw nlohmann::json::type_error::create(302, "expected an integer", &v);
        }
      }
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorCode::invalid_argument, source_ + ": key '" + std::string(dotted) + "' has the wrong type (" +
                                                   v.type_name() + " " + v.dump() + ")");
    }
  }
  nlohmann::json root_;
  std::string source_;
};

// Converts TOML text to JSON (tables to objects, arrays to arrays, dates to strings).
nlohmann::json toml_to_json(std::string_view text, const std::string& source);
// Converts a JSON object to TOML text (null values are skipped: TOML has no null).
std::string json_to_toml(const nlohmann::json& value);

}  // namespace hawkeye
