#include "hawkeye/data/kadid_labels.h"

#include <charconv>
#include <cmath>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/version.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/distortions/kadid.h"

namespace hawkeye {

namespace {

template <typename T>
bool parse_value(const std::string& s, T& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

KadidLabelTable KadidLabelTable::load(const std::filesystem::path& csv) {
  const std::string text = read_file(csv, 1 << 20);
  const std::string src = csv.string();
  auto fail = [&](std::size_t line, const std::string& why) {
    throw Error(ErrorCode::parse, src + ":" + std::to_string(line) + ": " + why);
  };
  KadidLabelTable t;
  t.source_ = src;
  t.rows_.resize(kKadidTypeCount * kKadidLevelCount);
  std::vector<std::size_t> seen(t.rows_.size(), 0);
  std::size_t line = 0, pos = 0;
  const std::vector<std::string> expect = {"type_id", "type_name", "level", "mean_dmos", "std_of_dmos_across_refs", "n"};
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string l = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.empty()) continue;
    const auto cells = csv_split(l);
    if (line == 1) {
      if (cells != expect) fail(line, "header must be type_id,type_name,level,mean_dmos,std_of_dmos_across_refs,n");
      continue;
    }
    if (cells.size() != expect.size()) fail(line, std::to_string(cells.size()) + " cells, expected 6");
    KadidLabel r;
    if (!parse_value(cells[0], r.type_id) || r.type_id < 1 || r.type_id > kKadidTypeCount) fail(line, "bad type_id '" + cells[0] + "'");
    if (!parse_value(cells[2], r.level) || r.level < 1 || r.level > kKadidLevelCount) fail(line, "bad level '" + cells[2] + "'");
    if (!parse_value(cells[3], r.mean_dmos) || !(r.mean_dmos >= 1.0 && r.mean_dmos <= 5.0)) {
      fail(line, "mean_dmos '" + cells[3] + "' is not a number in [1, 5]");
    }
    if (!parse_value(cells[4], r.std_across_refs) || !(r.std_across_refs >= 0)) fail(line, "bad std '" + cells[4] + "'");
    if (!parse_value(cells[5], r.n) || r.n < 1) fail(line, "bad n '" + cells[5] + "'");
    r.type_name = cells[1];
    if (r.type_name != kadid_distortion(r.type_id).name) {
      fail(line, "type " + std::to_string(r.type_id) + " is named '" + r.type_name + "', the registry says '" +
                     std::string(kadid_distortion(r.type_id).name) + "'");
    }
    const std::size_t i = static_cast<std::size_t>((r.type_id - 1) * kKadidLevelCount + r.level - 1);
    if (seen[i]) fail(line, "type " + cells[0] + " level " + cells[2] + " repeats line " + std::to_string(seen[i]));
    seen[i] = line;
    t.rows_[i] = std::move(r);
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      throw Error(ErrorCode::parse, src + ": missing type " + std::to_string(i / kKadidLevelCount + 1) + " level " +
                                        std::to_string(i % kKadidLevelCount + 1) + " (the table needs all 125 rows)");
    }
  }
  return t;
}

KadidLabelTable KadidLabelTable::load_default() { return load(resource_dir() / "kadid_type_level_dmos.csv"); }

const KadidLabel& KadidLabelTable::at(int type, int level) const {
  require(type >= 1 && type <= kKadidTypeCount && level >= 1 && level <= kKadidLevelCount, ErrorCode::invalid_argument,
          "no KADID label for type " + std::to_string(type) + " level " + std::to_string(level));
  return rows_[static_cast<std::size_t>((type - 1) * kKadidLevelCount + level - 1)];
}

}  // namespace hawkeye
