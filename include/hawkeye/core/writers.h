// Record writers for the toolkit's outputs: JSON Lines and CSV with a stable column order.
// Non-finite numbers are written as null (JSON) or an empty cell (CSV), never as "nan".
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

using ordered_json = nlohmann::ordered_json;

// Replaces non-finite floating-point values (recursively) by null.
ordered_json sanitize_json(ordered_json value);

// One JSON object per line. Keys keep insertion order. Flushes after every record (streaming output).
class JsonlWriter {
 public:
  explicit JsonlWriter(std::ostream& out) : out_(out) {}
  void write(const ordered_json& record);

 private:
  std::ostream& out_;
};

// RFC 4180 CSV with a fixed header. Each record supplies values for the declared columns (missing keys
// become empty cells; keys not in the header are ignored). Nested values are written as compact JSON.
class CsvWriter {
 public:
  CsvWriter(std::ostream& out, std::vector<std::string> columns);
  void write(const ordered_json& record);
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  std::ostream& out_;
  std::vector<std::string> columns_;
};

// A lossless text form of bytes that need not be UTF-8 (a file name): valid UTF-8 is kept, a backslash becomes
// "\\" and any other byte "\xHH". JSON output replaces invalid bytes by U+FFFD, which loses the name; this
// form round-trips through unescape_bytes (which throws Error(parse) on a malformed escape).
std::string escape_bytes(std::string_view bytes);
std::string unescape_bytes(std::string_view text);
bool is_valid_utf8(std::string_view bytes);

// Quotes a CSV cell when it holds a comma, quote, CR or LF.
std::string csv_escape(const std::string& cell);

// Splits one CSV record (RFC 4180, quotes allowed); throws Error(parse) on an unterminated quote.
std::vector<std::string> csv_split(const std::string& line);

}  // namespace hawkeye
