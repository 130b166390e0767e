// A small, defensive reader for MATLAB level-5 .mat files (the format of `save -v6`, also read by SciPy's
// loadmat): real numeric 2-D arrays by name, enough for model parameters such as NIQE's pristine
// Gaussian. Every length and offset is checked against the data before it is used; nothing is allocated
// beyond what the file really holds.
//
// Supported: both byte orders, numeric classes (double, single, int8..uint64), the small-element form.
// Not supported (listed in MatFile::skipped, or an error when asked for): compressed variables (v7 files,
// miCOMPRESSED: save with -v6), complex or sparse arrays, cell, struct, char and object variables, and
// arrays of more than 2 dimensions. v7.3 files (HDF5) are refused as a whole.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

struct MatArray {
  int rows = 0, cols = 0;
  std::vector<double> values;  // row-major (converted from MATLAB's column-major order)
  double at(int r, int c) const { return values[static_cast<std::size_t>(r) * cols + c]; }
};

struct MatFile {
  std::map<std::string, MatArray> arrays;
  std::map<std::string, std::string> skipped;  // variable name -> why it was not read

  // The array called name. Errors: not_found (naming the variables the file has), unsupported (the
  // variable exists but is of a kind this reader skips).
  const MatArray& get(std::string_view name) const;
  bool has(std::string_view name) const { return arrays.count(std::string(name)) > 0; }
  std::string source;  // file name, for messages
};

// Parses the bytes of a .mat file. `source` names it in errors. Errors: corrupt_data (truncated or
// inconsistent, with the byte offset), unsupported (not a level-5 file, e.g. a v7.3 HDF5 file).
MatFile parse_mat_file(std::string_view bytes, std::string_view source = "<memory>");

// Reads and parses a file (at most 256 MiB). Extra errors: not_found, limit_exceeded.
MatFile read_mat_file(const std::filesystem::path& path);

}  // namespace hawkeye
