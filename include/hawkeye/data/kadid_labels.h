// KADID-10k's human scores per distortion type and level (resources/kadid_type_level_dmos.csv, see
// SOURCES.md): the labels of the synthetic sets. Scale: 1..5, higher is better; about 4.6 is the practical
// ceiling (what identity levels receive).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hawkeye {

struct KadidLabel {
  int type_id = 0;
  std::string type_name;
  int level = 0;
  double mean_dmos = 0;       // mean over KADID's 81 references
  double std_across_refs = 0; // sample std of the per-image DMOS over the references
  int n = 0;
};

class KadidLabelTable {
 public:
  // Reads and validates the 125-row table: every (type 1..25, level 1..5) exactly once, names equal to the
  // distortion registry's, scores in [1, 5]. Errors: not_found, parse (naming file and line).
  static KadidLabelTable load(const std::filesystem::path& csv);
  // resource_dir() / "kadid_type_level_dmos.csv".
  static KadidLabelTable load_default();

  const KadidLabel& at(int type, int level) const;  // Errors: invalid_argument
  double mean(int type, int level) const { return at(type, level).mean_dmos; }
  const std::vector<KadidLabel>& rows() const { return rows_; }
  const std::string& source() const { return source_; }

 private:
  std::vector<KadidLabel> rows_;  // index (type - 1) * 5 + level - 1
  std::string source_;
};

}  // namespace hawkeye
