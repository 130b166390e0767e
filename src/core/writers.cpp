#include "hawkeye/core/writers.h"

#include <cmath>

#include "hawkeye/core/error.h"
#include "text/utf8.h"

namespace hawkeye {

ordered_json sanitize_json(ordered_json value) {
  if (value.is_number_float()) {
    if (!std::isfinite(value.get<double>())) return nullptr;
  } else if (value.is_structured()) {
    for (auto& item : value) item = sanitize_json(std::move(item));
  }
  return value;
}

void JsonlWriter::write(const ordered_json& record) {
  out_ << sanitize_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out_.flush();
}

bool is_valid_utf8(std::string_view bytes) { return utf8::is_valid(bytes); }

std::string escape_bytes(std::string_view bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t run = utf8::valid_run(bytes, i);
    for (std::size_t k = i; k < i + run; ++k) {
      if (bytes[k] == '\\') out += '\\';
      out += bytes[k];
    }
    i += run;
    if (i < bytes.size()) {
      const auto b = static_cast<unsigned char>(bytes[i++]);
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

std::string unescape_bytes(std::string_view text) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw Error(ErrorCode::parse, "\"" + std::string(text) + "\": a \\x escape needs two hex digits");
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (i + 3 < text.size() && text[i + 1] == 'x') {
      out += static_cast<char>(nibble(text[i + 2]) * 16 + nibble(text[i + 3]));
      i += 3;
    } else {
      throw Error(ErrorCode::parse, "\"" + std::string(text) + "\": unknown escape at byte " + std::to_string(i));
    }
  }
  return out;
}

std::string csv_escape(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string q = "\"";
  for (char c : cell) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

CsvWriter::CsvWriter(std::ostream& out, std::vector<std::string> columns) : out_(out), columns_(std::move(columns)) {
  for (std::size_t i = 0; i < columns_.size(); ++i) out_ << (i ? "," : "") << csv_escape(columns_[i]);
  out_ << '\n';
  out_.flush();
}

static std::string cell_text(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return "";
    return v.dump();
  }
  return sanitize_json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void CsvWriter::write(const ordered_json& record) {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (i) out_ << ',';
    auto it = record.find(columns_[i]);
    if (it != record.end()) out_ << csv_escape(cell_text(*it));
  }
  out_ << '\n';
  out_.flush();
}

std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cell += c;
      }
    } else if (c == '"' && cell.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      cells.push_back(std::move(cell));
      cell.clear();
      was_quoted = false;
    } else if (c == '\r' && i + 1 == line.size()) {
      // tolerate CRLF line ends
    } else {
      cell += c;
    }
  }
  if (quoted) throw Error(ErrorCode::parse, "unterminated quoted CSV field");
  cells.push_back(std::move(cell));
  return cells;
}

}  // namespace hawkeye
