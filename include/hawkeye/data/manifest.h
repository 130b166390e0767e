// Manifests: the lists of images and their quality scores that every training, evaluation and data
// command reads and writes. Two file forms:
//   - pyiqa `meta_info` CSV. Columns are positional, as pyiqa reads them: no-reference (NR) = name, score
//     [, std, split, ...]; full-reference (FR) = ref_name, dist_name, score [, std, ...]. The form is
//     recognised from the header (a first column naming a reference and a second naming a distorted image
//     make it FR). A column named std/sd is the rater spread, one named split the split; every other column
//     is kept as text in `extra`.
//   - JSON Lines: one object per line; the first line is a header object {"hawkeye_manifest": 1, ...}
//     declaring the form, the score field and the score range; rows have "image", "reference" (FR), the score
//     field, optional "std" and "split", and any other fields (kept in `extra` with their JSON types).
// Every manifest declares its score range and direction (ScoreScale), and labels are mapped onto [1, 5]
// (5 = best). A CSV gets its scale from the read options, else a sidecar "<file>.meta.json", else the table of
// known pyiqa lists (by file name); a JSONL from its header. Validation errors name the file and the line.
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

struct ScoreScale {
  double lo = 1.0;  // the dataset's own score range
  double hi = 5.0;
  bool higher_better = true;
  // Linear map onto [1, 5] with 5 = best quality (inverted when lower is better); clamped to [1, 5].
  double to_label(double raw) const;
  // The inverse map (a label in [1, 5] back to the dataset's scale).
  double from_label(double label) const;
  std::string describe() const;  // "[0, 100], higher is better"
};

enum class ManifestForm { no_reference, full_reference };

struct ManifestRow {
  std::string image;      // path of the (distorted) image, relative to Manifest::root unless absolute
  std::string reference;  // FR: path of the reference image; NR: empty
  double score = std::numeric_limits<double>::quiet_NaN();  // in the manifest's own scale
  double std = std::numeric_limits<double>::quiet_NaN();    // rater spread, NaN when not given
  std::string split;      // "" when the manifest has no split column
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // other columns, in file order
  std::size_t line = 0;   // 1-based line in the source file (0 for rows made in memory)
};

struct Manifest {
  std::string source = "<memory>";  // the file it came from, for messages
  std::filesystem::path root;       // folder the image paths are relative to
  ManifestForm form = ManifestForm::no_reference;
  std::string score_name = "mos";   // name of the score column / field
  ScoreScale scale;
  std::vector<ManifestRow> rows;

  double label(const ManifestRow& row) const { return scale.to_label(row.score); }
  std::filesystem::path image_path(const ManifestRow& row) const;
  std::filesystem::path reference_path(const ManifestRow& row) const;
  // Names of the extra columns, in first-seen order.
  std::vector<std::string> extra_columns() const;
  // "file:line" of a row, for messages.
  std::string where(const ManifestRow& row) const;
};

// An extra field as text ("" when absent; numbers and booleans formatted, as a CSV would hold them) and as a
// number (nullopt when absent or not numeric). Work the same for rows read from CSV and from JSONL.
std::string extra_text(const ManifestRow& row, const std::string& key);
std::optional<double> extra_number(const ManifestRow& row, const std::string& key);

// The column that names each row's distortion type: "type_name" (hawkeye synth's manifests), else "type"
// (pyiqa-style lists), whichever some row fills first in that order; "" when neither does.
std::string distortion_type_column(const Manifest& m);

struct ManifestReadOptions {
  std::optional<ScoreScale> scale;         // overrides the sidecar / header / known-list scale
  std::optional<ManifestForm> form;        // CSV: overrides the form recognised from the header
  std::string score_column;                // CSV: score column by name (default: pyiqa position)
  std::filesystem::path root;              // default: the manifest file's folder
  bool allow_duplicate_images = false;     // duplicate image names are errors by default
  std::uint64_t max_bytes = 1ull << 30;
};

// Reads a .csv or .jsonl manifest (by extension). Errors: not_found, parse (naming file:line and the column),
// invalid_argument (no declared score range, unknown extension).
Manifest read_manifest(const std::filesystem::path& path, const ManifestReadOptions& options = {});
Manifest parse_manifest_csv(std::string_view text, const std::string& source, const ManifestReadOptions& options = {});
Manifest parse_manifest_jsonl(std::string_view text, const std::string& source,
                              const ManifestReadOptions& options = {});

// Writers (atomic). The CSV writer also writes the sidecar "<path>.meta.json" with the scale and form.
// Columns: FR = ref_name, dist_name, <score_name>, [std], [split], extras; NR = img_name, <score_name>, ...
std::string manifest_to_csv(const Manifest& manifest);
std::string manifest_to_jsonl(const Manifest& manifest);
nlohmann::ordered_json manifest_header(const Manifest& manifest);  // the JSONL header / CSV sidecar object
void write_manifest(const std::filesystem::path& path, const Manifest& manifest);  // by extension

// The score lists of pyiqa's meta_info files and their declared scales (pyiqa's dataset_info where it has
// one; see docs/data.md for each source).
struct KnownScoreList {
  std::string_view file;     // "meta_info_KADID10kDataset.csv"
  std::string_view dataset;  // "KADID-10k"
  ScoreScale scale;
  std::string_view note;
};
const std::vector<KnownScoreList>& known_score_lists();
const KnownScoreList* find_known_score_list(std::string_view file_name);

}  // namespace hawkeye
