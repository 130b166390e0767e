#include "hawkeye/eval/reasoning_family.h"

#include <limits>
#include <string>
#include <vector>

#include "hawkeye/data/families.h"
#include "hawkeye/image/distortions/kadid.h"

namespace hawkeye::eval {

double FamilyCount::rate() const {
  return rows > 0 ? static_cast<double>(right) / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN();
}

void ReasoningFamilyTally::add(int type_id, int level, double label, std::string_view reasoning) {
  const std::string_view truth = kadid_family(type_id);
  const std::string_view named = named_family(reasoning);
  const bool right = named == truth;
  if (kadid_distortion_invisible(type_id, level, label)) {
    ++invisible.rows;
    invisible.right += right;
    invisible_named_none += named == kNoFamily;
    ++per_type_invisible[type_id];
    return;
  }
  ++visible.rows;
  visible.right += right;
  FamilyCount& t = per_type[type_id];
  ++t.rows;
  t.right += right;
  ++confusion[std::string(truth)][std::string(named)];
}

std::string reasoning_family_rule() {
  return "The reasoning (the text inside <think>...</think> of the greedy answer, or of the first of K sampled answers) "
         "names the family whose keyword occurs first in it: keywords are lower-case stems matched as substrings of the "
         "lower-cased text, the earliest occurrence wins and at the same position the longer keyword; 'none' when no "
         "keyword occurs (keyword table: docs/data.md section 5). A row is right when that family is the KADID-10k "
         "family of its type_id. Rows whose label is >= 4.4 (the 'barely visible' severity band of the training "
         "descriptions) or whose level is an identity level (described as 'no visible distortion') are counted under "
         "'invisible' and left out of rows, rate, per_type, per_family and confusion. Rows that failed to load or have "
         "no type_id in 1..25 are not judged.";
}

ordered_json ReasoningFamilyTally::to_json() const {
  auto count = [](const FamilyCount& c) {
    ordered_json j;
    j["rows"] = c.rows;
    j["right"] = c.right;
    j["rate"] = c.rate();
    return j;
  };
  ordered_json j;
  j["rule"] = reasoning_family_rule();
  j["rows"] = visible.rows;
  j["right_family"] = visible.right;
  j["rate"] = visible.rate();
  j["excluded_invisible"] = invisible.rows;
  ordered_json inv = count(invisible);
  inv["named_none"] = invisible_named_none;
  j["invisible"] = inv;
  j["not_judged"] = not_judged;

  ordered_json types = ordered_json::object();
  for (int id = 1; id <= kKadidTypeCount; ++id) {
    const auto vis = per_type.find(id);
    const auto inv_it = per_type_invisible.find(id);
    if (vis == per_type.end() && inv_it == per_type_invisible.end()) continue;
    const KadidDistortion& d = kadid_distortion(id);
    ordered_json e;
    e["type_id"] = id;
    e["family"] = d.family;
    const ordered_json c = count(vis == per_type.end() ? FamilyCount{} : vis->second);
    for (auto it = c.begin(); it != c.end(); ++it) e[it.key()] = it.value();
    e["excluded_invisible"] = inv_it == per_type_invisible.end() ? 0 : inv_it->second;
    types[std::string(d.name)] = e;
  }
  j["per_type"] = types;

  ordered_json families = ordered_json::object(), matrix = ordered_json::object();
  std::vector<std::string> named_order(family_names().begin(), family_names().end());
  named_order.emplace_back(kNoFamily);
  for (std::string_view f : family_names()) {
    const auto row = confusion.find(std::string(f));
    if (row == confusion.end()) continue;
    FamilyCount c;
    ordered_json cells = ordered_json::object();
    for (const std::string& named : named_order) {
      const auto cell = row->second.find(named);
      if (cell == row->second.end()) continue;
      cells[named] = cell->second;
      c.rows += cell->second;
      if (named == f) c.right += cell->second;
    }
    families[std::string(f)] = count(c);
    matrix[std::string(f)] = cells;
  }
  j["per_family"] = families;
  j["confusion"] = matrix;
  return sanitize_json(j);
}

}  // namespace hawkeye::eval
