#include "hawkeye/image/inputs.h"

#include <glob.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "hawkeye/core/error.h"
#include "hawkeye/image/io.h"

namespace hawkeye {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> images_below(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw Error(ErrorCode::io, dir.string() + ": cannot list this folder (" + ec.message() + ")");
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw Error(ErrorCode::io, dir.string() + ": cannot list this folder (" + ec.message() + ")");
    std::error_code fec;
    if (it->is_regular_file(fec) && has_image_extension(it->path())) found.push_back(it->path());
  }
  if (found.empty()) {
    throw Error(ErrorCode::not_found, dir.string() + ": no image files in this folder or below it (looked for " +
                                          "png, jpg, jpeg, bmp, webp, tif, tiff, pnm, ppm, pgm, gif)");
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<fs::path> expand_pattern(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> matches;
  if (rc == 0) matches.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  ::globfree(&g);
  if (rc == GLOB_NOSPACE) throw Error(ErrorCode::limit_exceeded, pattern + ": too many matches");
  if (rc == GLOB_ABORTED) throw Error(ErrorCode::io, pattern + ": a folder could not be read while matching");
  std::sort(matches.begin(), matches.end());
  std::vector<fs::path> out;
  for (const std::string& m : matches) {
    std::error_code ec;
    if (fs::is_directory(m, ec)) {
      const auto below = images_below(m);
      out.insert(out.end(), below.begin(), below.end());
    } else if (has_image_extension(m)) {
      out.emplace_back(m);
    }
  }
  if (out.empty()) throw Error(ErrorCode::not_found, pattern + ": no image file matches this pattern");
  return out;
}

}  // namespace

std::vector<fs::path> expand_image_inputs(const std::vector<std::string>& arguments) {
  if (arguments.empty()) throw Error(ErrorCode::invalid_argument, "give at least one image, folder or pattern");
  std::vector<fs::path> out;
  for (const std::string& a : arguments) {
    std::error_code ec;
    const fs::path p(a);
    if (fs::is_directory(p, ec)) {
      const auto below = images_below(p);
      out.insert(out.end(), below.begin(), below.end());
    } else if (is_pattern(a) && !fs::exists(p, ec)) {
      const auto matched = expand_pattern(a);
      out.insert(out.end(), matched.begin(), matched.end());
    } else {
      out.push_back(p);
    }
  }
  return out;
}

std::vector<std::string> read_path_list(const std::string& file_or_dash) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string name = file_or_dash == "-" ? std::string("standard input") : file_or_dash;
  if (file_or_dash != "-") {
    std::error_code ec;
    if (!fs::exists(file_or_dash, ec)) throw Error(ErrorCode::not_found, file_or_dash + ": no such file (the list of files)");
    if (fs::is_directory(file_or_dash, ec)) throw Error(ErrorCode::invalid_argument, file_or_dash + ": is a folder, not a list of files");
    file.open(file_or_dash, std::ios::binary);
    if (!file) throw Error(ErrorCode::io, file_or_dash + ": cannot open the list of files");
    in = &file;
  }
  std::vector<std::string> out;
  std::string line;
  std::size_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (line.size() > 65536) throw Error(ErrorCode::limit_exceeded, name + ": line " + std::to_string(number) + " is longer than 64 KiB");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.find('\0') != std::string::npos) {
      throw Error(ErrorCode::parse, name + ": line " + std::to_string(number) + " holds a NUL byte (one path per line is expected)");
    }
    if (out.size() >= 100'000'000) throw Error(ErrorCode::limit_exceeded, name + ": more than 100 million entries");
    out.push_back(line);
  }
  if (in->bad()) throw Error(ErrorCode::io, name + ": read failed");
  return out;
}

std::vector<std::string> arguments_and_list(const std::vector<std::string>& arguments, const std::string& files_from) {
  std::vector<std::string> out = arguments;
  if (!files_from.empty()) {
    const auto listed = read_path_list(files_from);
    if (listed.empty()) throw Error(ErrorCode::invalid_argument, files_from + ": the list of files is empty");
    out.insert(out.end(), listed.begin(), listed.end());
  }
  if (out.empty()) throw Error(ErrorCode::invalid_argument, "give images, folders or patterns, or --files-from FILE");
  return out;
}

}  // namespace hawkeye
