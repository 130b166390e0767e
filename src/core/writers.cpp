#include "hawkeye/core/writers.h"

#include <cmath>

#include "hawkeye/core/error.h"

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
