#include "data/batch.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"

namespace hawkeye {

void write_file_fast(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = temp_sibling(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::io, tmp.string() + ": cannot create: " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::io, tmp.string() + ": write failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(ErrorCode::io, path.string() + ": cannot rename into place: " + why);
  }
}


}  // namespace hawkeye
