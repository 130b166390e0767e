#include "hawkeye/core/config.h"

#include <sstream>
#include <toml++/toml.h>

#include "hawkeye/core/fs.h"

namespace hawkeye {

namespace {

nlohmann::json node_to_json(const toml::node& node) {
  if (auto t = node.as_table()) {
    nlohmann::json obj = nlohmann::json::object();
    for (auto&& [k, v] : *t) obj[std::string(k.str())] = node_to_json(v);
    return obj;
  }
  if (auto a = node.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto&& v : *a) arr.push_back(node_to_json(v));
    return arr;
  }
  if (auto v = node.as_string()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_boolean()) return v->get();
  std::ostringstream os;
  if (auto v = node.as_date()) os << v->get();
  else if (auto v = node.as_time()) os << v->get();
  else if (auto v = node.as_date_time()) os << v->get();
  return os.str();
}

void json_into_table(const nlohmann::json& j, toml::table& t);

void json_into_array(const nlohmann::json& j, toml::array& a) {
  for (const auto& v : j) {
    if (v.is_object()) {
      toml::table sub;
      json_into_table(v, sub);
      a.push_back(std::move(sub));
    } else if (v.is_array()) {
      toml::array sub;
      json_into_array(v, sub);
      a.push_back(std::move(sub));
    } else if (v.is_string()) a.push_back(v.get<std::string>());
    else if (v.is_boolean()) a.push_back(v.get<bool>());
    else if (v.is_number_integer()) a.push_back(v.get<std::int64_t>());
    else if (v.is_number()) a.push_back(v.get<double>());
  }
}

void json_into_table(const nlohmann::json& j, toml::table& t) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    const std::string& k = it.key();
    if (v.is_object()) {
      toml::table sub;
      json_into_table(v, sub);
      t.insert_or_assign(k, std::move(sub));
    } else if (v.is_array()) {
      toml::array sub;
      json_into_array(v, sub);
      t.insert_or_assign(k, std::move(sub));
    } else if (v.is_string()) t.insert_or_assign(k, v.get<std::string>());
    else if (v.is_boolean()) t.insert_or_assign(k, v.get<bool>());
    else if (v.is_number_integer()) t.insert_or_assign(k, v.get<std::int64_t>());
    else if (v.is_number()) t.insert_or_assign(k, v.get<double>());
  }
}

std::vector<std::string> split_dotted(std::string_view dotted) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = dotted.find('.', start);
    parts.emplace_back(dotted.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

nlohmann::json toml_to_json(std::string_view text, const std::string& source) {
  try {
    toml::table tbl = toml::parse(text, source);
    return node_to_json(tbl);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error(ErrorCode::parse, source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                                      ": " + std::string(e.description()));
  }
}

std::string json_to_toml(const nlohmann::json& value) {
  toml::table t;
  if (value.is_object()) json_into_table(value, t);
  std::ostringstream os;
  os << t << '\n';
  return os.str();
}

Config::Config(nlohmann::json root, std::string source) : root_(std::move(root)), source_(std::move(source)) {
  if (!root_.is_object()) throw Error(ErrorCode::invalid_argument, source_ + ": a config must be a table/object");
}

Config Config::parse_toml(std::string_view text, std::string source) {
  return Config(toml_to_json(text, source), source);
}

Config Config::load(const std::filesystem::path& path) {
  const std::string text = read_file(path, 16u << 20);
  const std::string src = path.string();
  if (path.extension() == ".json") {
    try {
      return Config(nlohmann::json::parse(text), src);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(ErrorCode::parse, src + ": invalid JSON: " + e.what());
    }
  }
  return parse_toml(text, src);
}

const nlohmann::json* Config::find(std::string_view dotted) const {
  const nlohmann::json* cur = &root_;
  for (const auto& part : split_dotted(dotted)) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool Config::has(std::string_view dotted) const { return find(dotted) != nullptr; }

void Config::set(std::string_view dotted, nlohmann::json value) {
  nlohmann::json* cur = &root_;
  const auto parts = split_dotted(dotted);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) throw Error(ErrorCode::invalid_argument, "empty key part in '" + std::string(dotted) + "'");
    nlohmann::json& next = (*cur)[parts[i]];
    if (next.is_null()) next = nlohmann::json::object();
    if (!next.is_object()) {
      throw Error(ErrorCode::invalid_argument, "cannot set '" + std::string(dotted) + "': '" + parts[i] + "' is not a table");
    }
    cur = &next;
  }
  if (parts.back().empty()) throw Error(ErrorCode::invalid_argument, "empty key in '" + std::string(dotted) + "'");
  (*cur)[parts.back()] = std::move(value);
}

void Config::apply_override(std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw Error(ErrorCode::invalid_argument, "override '" + std::string(assignment) + "' must look like key=value");
  }
  const std::string key(assignment.substr(0, eq));
  const std::string text(assignment.substr(eq + 1));
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;  // a bare word: a string
  }
  set(key, std::move(value));
}

std::string Config::to_toml() const { return json_to_toml(root_); }

}  // namespace hawkeye
