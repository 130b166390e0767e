#include "hawkeye/core/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <toml++/toml.h>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/text_util.h"

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

std::vector<std::string> split_dotted(std::string_view dotted) { return split_on(dotted, '.'); }

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

// TOML writing is hawkeye's own (toml++ reads): Debian's toml++ library prints every float with 17 digits
// ("alpha = 0.20000000000000001"); here a float is the shortest text that reads back to the same double.
namespace {

bool bare_key(const std::string& k) {
  return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string toml_string(const std::string& v) {
  // A literal string ('…', no escapes) when it can hold the text, as toml++ writes them; else a basic one.
  const bool literal = std::none_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\'' || c < 0x20 || c == 0x7F;
  });
  if (literal) return "'" + v + "'";
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string toml_key(const std::string& k) { return bare_key(k) ? k : toml_string(k); }

std::string toml_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // a TOML float needs a point or an exponent
  return s;
}

std::string toml_inline(const nlohmann::json& v) {
  if (v.is_string()) return toml_string(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) return toml_float(v.get<double>());
  std::string out;
  if (v.is_array()) {
    out = "[";
    bool first = true;
    for (const auto& e : v) {
      if (e.is_null()) continue;  // TOML has no null
      out += (first ? " " : ", ") + toml_inline(e);
      first = false;
    }
    return out + (first ? "]" : " ]");
  }
  out = "{";  // an object inside an array: an inline table
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->is_null()) continue;
    out += (first ? " " : ", ") + toml_key(it.key()) + " = " + toml_inline(*it);
    first = false;
  }
  return out + (first ? "}" : " }");
}

// The keys of one table (scalars and arrays first, TOML requires it), then its sub-tables as [a.b] sections.
void write_table(const nlohmann::json& j, const std::string& path, std::string& out) {
  bool wrote = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_null() || it->is_object()) continue;
    out += toml_key(it.key()) + " = " + toml_inline(*it) + "\n";
    wrote = true;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_object()) continue;
    const std::string sub = path.empty() ? toml_key(it.key()) : path + "." + toml_key(it.key());
    if (!out.empty() || wrote) out += "\n";
    out += "[" + sub + "]\n";
    write_table(*it, sub, out);
  }
}

}  // namespace

std::string json_to_toml(const nlohmann::json& value) {
  std::string out;
  if (value.is_object()) write_table(value, "", out);
  return out;
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
  } catch (const nlohmann::json::exception& e) {  // e.g. 1e999: a number beyond double's range
    throw Error(ErrorCode::invalid_argument, "override '" + std::string(assignment) + "': the value is not a usable number (" +
                                                 (std::string(e.what()).find("overflow") != std::string::npos ? "out of range" : e.what()) + ")");
  }
  set(key, std::move(value));
}

std::string Config::to_toml() const { return json_to_toml(root_); }

}  // namespace hawkeye
