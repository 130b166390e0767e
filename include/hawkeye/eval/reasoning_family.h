// How often a model's reasoning names the right distortion family, on a manifest whose rows carry KADID type ids
// (`hawkeye synth` sets): the "reasoning" section of report.json (docs/evaluation.md). Each judged row adds its
// type, level, label and reasoning; the family the reasoning names is data/families.h's first_family_match.
//
//   eval::ReasoningFamilyTally t;
//   t.add(1, 3, 2.9, "moderate lens blur, edges smeared");   // blur named, blur expected: right
//   t.rate();                                                 // 1.0
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "hawkeye/core/writers.h"

namespace hawkeye::eval {

struct FamilyCount {
  std::size_t rows = 0, right = 0;
  double rate() const;  // right / rows; NaN when rows == 0
};

struct ReasoningFamilyTally {
  FamilyCount visible;                           // the main rate: rows with a distortion to name
  FamilyCount invisible;                         // labels >= 4.4 or identity levels, counted apart
  std::size_t invisible_named_none = 0;          // of those, reasoning that names no family
  std::size_t not_judged = 0;                    // rows without an answer (load errors) or a type id 1..25
  std::map<int, FamilyCount> per_type;           // type id -> visible rows
  std::map<int, std::size_t> per_type_invisible; // type id -> invisible rows
  std::map<std::string, std::map<std::string, std::size_t>> confusion;  // true family -> named family -> visible rows

  // Judges one row: type_id 1..25, level 1..5 (0 = unknown), label on [1, 5]; the reasoning text of its
  // (first) answer. Errors: invalid_argument (type or level out of range).
  void add(int type_id, int level, double label, std::string_view reasoning);
  double rate() const { return visible.rate(); }
  // {"rule", "rows", "right_family", "rate", "excluded_invisible", "invisible", "not_judged", "per_type",
  //  "per_family", "confusion"} (docs/evaluation.md).
  ordered_json to_json() const;
};

// The rule in words, as written in report.json.
std::string reasoning_family_rule();

}  // namespace hawkeye::eval
