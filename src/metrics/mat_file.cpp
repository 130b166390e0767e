#include "hawkeye/metrics/mat_file.h"

#include <cstdint>
#include <cctype>
#include <cstring>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"

namespace hawkeye {

namespace {

// MATLAB level-5 data types (miXXX) and array classes (mxXXX_CLASS).
enum : std::uint32_t {
  miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7, miDOUBLE = 9,
  miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15,
};

int type_size(std::uint32_t t) {
  switch (t) {
    case miINT8: case miUINT8: return 1;
    case miINT16: case miUINT16: return 2;
    case miINT32: case miUINT32: case miSINGLE: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
  }
}

const char* class_name(std::uint32_t c) {
  switch (c) {
    case 1: return "cell";
    case 2: return "struct";
    case 3: return "object";
    case 4: return "char";
    case 5: return "sparse";
    case 16: return "function handle";
    case 17: return "opaque";
    default: return "unknown-class";
  }
}

bool numeric_class(std::uint32_t c) { return c >= 6 && c <= 15; }

class Reader {
 public:
  Reader(std::string_view bytes, bool little, std::string_view source) : b_(bytes), little_(little), source_(source) {}

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw Error(ErrorCode::corrupt_data, std::string(source_) + ": " + what + " (at byte " + std::to_string(at) + ")");
  }
  std::uint32_t u32(std::size_t at) const {
    if (at > b_.size() || b_.size() - at < 4) fail(at, "truncated MAT file");
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + at);
    return little_ ? (p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24))
                   : ((std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
  }
  // A value of data type t at byte offset at (already bounds-checked by the caller).
  double value(std::uint32_t t, std::size_t at) const {
    unsigned char raw[8];
    const int n = type_size(t);
    for (int i = 0; i < n; ++i) raw[i] = static_cast<unsigned char>(b_[at + (little_ ? i : n - 1 - i)]);
    switch (t) {
      case miINT8: { std::int8_t v; std::memcpy(&v, raw, 1); return v; }
      case miUINT8: return raw[0];
      case miINT16: { std::int16_t v; std::memcpy(&v, raw, 2); return v; }
      case miUINT16: { std::uint16_t v; std::memcpy(&v, raw, 2); return v; }
      case miINT32: { std::int32_t v; std::memcpy(&v, raw, 4); return v; }
      case miUINT32: { std::uint32_t v; std::memcpy(&v, raw, 4); return v; }
      case miSINGLE: { float v; std::memcpy(&v, raw, 4); return v; }
      case miDOUBLE: { double v; std::memcpy(&v, raw, 8); return v; }
      case miINT64: { std::int64_t v; std::memcpy(&v, raw, 8); return static_cast<double>(v); }
      case miUINT64: { std::uint64_t v; std::memcpy(&v, raw, 8); return static_cast<double>(v); }
      default: return 0;
    }
  }
  std::string_view text(std::size_t at, std::size_t n) const { return b_.substr(at, n); }
  std::size_t size() const { return b_.size(); }

 private:
  std::string_view b_;
  bool little_;
  std::string_view source_;
};

// One data element: its type, where its data starts, how many bytes of data, where the next one starts.
struct Element {
  std::uint32_t type = 0;
  std::size_t data = 0, bytes = 0, next = 0;
};

Element read_element(const Reader& r, std::size_t at, std::size_t end) {
  if (at + 8 > end) r.fail(at, "truncated data element tag");
  const std::uint32_t first = r.u32(at);
  Element e;
  if ((first >> 16) != 0) {  // small data element: 2-byte size, 2-byte type, 4 bytes of data
    e.type = first & 0xFFFF;
    e.bytes = first >> 16;
    if (e.bytes > 4) r.fail(at, "small data element claims " + std::to_string(e.bytes) + " bytes (at most 4)");
    e.data = at + 4;
    e.next = at + 8;
    return e;
  }
  e.type = first;
  e.bytes = r.u32(at + 4);
  e.data = at + 8;
  if (e.bytes > end - e.data) {
    r.fail(at, "data element of " + std::to_string(e.bytes) + " bytes runs past the end of its container");
  }
  const std::size_t padded = (e.bytes + 7) / 8 * 8;
  e.next = e.type == miCOMPRESSED ? e.data + e.bytes : std::min(end, e.data + padded);
  return e;
}

// Parses one miMATRIX element's content [at, end) into file (an array or a skipped entry).
void read_matrix(const Reader& r, std::size_t at, std::size_t end, MatFile& file, int index) {
  const Element flags = read_element(r, at, end);
  if (flags.type != miUINT32 || flags.bytes != 8) r.fail(at, "array flags subelement is malformed");
  const std::uint32_t word = r.u32(flags.data);
  const std::uint32_t cls = word & 0xFF;
  const bool complex = (word & 0x0800) != 0;
  const std::string unnamed = "<variable " + std::to_string(index) + ">";
  if (cls == 17 || cls == 3) {  // opaque/object layouts differ from here on
    file.skipped[unnamed] = std::string("a MATLAB ") + class_name(cls) + " variable";
    return;
  }
  const Element dims = read_element(r, flags.next, end);
  if (dims.type != miINT32 || dims.bytes % 4 != 0 || dims.bytes < 8) r.fail(flags.next, "dimensions subelement is malformed");
  const std::size_t ndims = dims.bytes / 4;
  std::vector<std::int64_t> shape;
  for (std::size_t d = 0; d < ndims; ++d) {
    const auto v = static_cast<std::int32_t>(r.u32(dims.data + 4 * d));
    if (v < 0) r.fail(dims.data + 4 * d, "negative dimension " + std::to_string(v));
    shape.push_back(v);
  }
  const Element name_el = read_element(r, dims.next, end);
  if (name_el.type != miINT8 || name_el.bytes > 63) r.fail(dims.next, "array name subelement is malformed");
  std::string name(r.text(name_el.data, name_el.bytes));
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) r.fail(name_el.data, "array name has a character MATLAB does not allow");
  }
  if (name.empty()) name = unnamed;
  if (file.arrays.count(name) || file.skipped.count(name)) r.fail(at, "variable '" + name + "' appears twice");
  if (!numeric_class(cls)) {
    file.skipped[name] = std::string("a ") + class_name(cls) + " variable";
    return;
  }
  if (complex) {
    file.skipped[name] = "a complex array";
    return;
  }
  if (ndims != 2) {
    file.skipped[name] = "an array of " + std::to_string(ndims) + " dimensions";
    return;
  }
  const Element real = read_element(r, name_el.next, end);
  const int size = type_size(real.type);
  if (size == 0) r.fail(name_el.next, "variable '" + name + "' stores its values as data type " + std::to_string(real.type));
  const std::uint64_t count = static_cast<std::uint64_t>(shape[0]) * static_cast<std::uint64_t>(shape[1]);
  if (real.bytes / size != count || real.bytes % size != 0) {
    r.fail(name_el.next, "variable '" + name + "' is " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]) +
                             " but holds " + std::to_string(real.bytes) + " bytes of data type " + std::to_string(real.type));
  }
  MatArray a;
  a.rows = static_cast<int>(shape[0]);
  a.cols = static_cast<int>(shape[1]);
  a.values.resize(static_cast<std::size_t>(count));
  // Column-major in the file, row-major here.
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::size_t rr = static_cast<std::size_t>(k % static_cast<std::uint64_t>(a.rows));
    const std::size_t cc = static_cast<std::size_t>(k / static_cast<std::uint64_t>(a.rows));
    a.values[rr * static_cast<std::size_t>(a.cols) + cc] = r.value(real.type, real.data + static_cast<std::size_t>(k) * size);
  }
  file.arrays[name] = std::move(a);
}

}  // namespace

const MatArray& MatFile::get(std::string_view name) const {
  const auto it = arrays.find(std::string(name));
  if (it != arrays.end()) return it->second;
  const auto sk = skipped.find(std::string(name));
  if (sk != skipped.end()) {
    throw Error(ErrorCode::unsupported, source + ": variable '" + std::string(name) + "' is " + sk->second +
                                            ", which hawkeye's MAT reader does not read");
  }
  std::string have;
  for (const auto& [n, _] : arrays) have += (have.empty() ? "" : ", ") + n;
  for (const auto& [n, _] : skipped) have += (have.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::not_found, source + ": no variable '" + std::string(name) + "' (the file has: " +
                                        (have.empty() ? "nothing" : have) + ")");
}

MatFile parse_mat_file(std::string_view bytes, std::string_view source) {
  const std::string src(source);
  if (bytes.size() < 128 || bytes.substr(0, 6) != "MATLAB") {
    throw Error(ErrorCode::unsupported, src + ": not a MATLAB level-5 .mat file (no 128-byte 'MATLAB' header)");
  }
  const std::string_view endian = bytes.substr(126, 2);
  if (endian != "IM" && endian != "MI") {
    throw Error(ErrorCode::corrupt_data, src + ": MAT header has no endian indicator at byte 126");
  }
  const bool little = endian == "IM";
  const Reader r(bytes, little, source);
  const auto* v = reinterpret_cast<const unsigned char*>(bytes.data() + 124);
  const unsigned version = little ? (v[0] | (v[1] << 8)) : ((v[0] << 8) | v[1]);
  if (version != 0x0100) {
    throw Error(ErrorCode::unsupported, src + ": MAT file version 0x" + std::to_string(version) +
                                            " is not level 5 (v7.3 files are HDF5: save with -v6)");
  }
  MatFile file;
  file.source = src;
  std::size_t at = 128;
  int index = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 8) {
      // MATLAB pads some files with zeros at the end; anything else is truncation.
      if (bytes.substr(at).find_first_not_of('\0') == std::string_view::npos) break;
      r.fail(at, "truncated data element");
    }
    const Element e = read_element(r, at, bytes.size());
    ++index;
    if (e.type == miMATRIX) {
      read_matrix(r, e.data, e.data + e.bytes, file, index);
    } else if (e.type == miCOMPRESSED) {
      file.skipped["<compressed variable " + std::to_string(index) + ">"] =
          "compressed (a v7 file): save it with -v6 to read it";
    } else {
      r.fail(at, "top-level data element of type " + std::to_string(e.type) + " (expected a matrix)");
    }
    if (e.next <= at) r.fail(at, "data element does not advance");
    at = e.next;
  }
  return file;
}

MatFile read_mat_file(const std::filesystem::path& path) {
  return parse_mat_file(read_file(path, 256ull << 20), path.string());
}

}  // namespace hawkeye
