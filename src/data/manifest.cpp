#include "hawkeye/data/manifest.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/writers.h"

namespace hawkeye {

namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& source, std::size_t line, const std::string& what) {
  throw Error(ErrorCode::parse, source + (line ? ":" + std::to_string(line) : "") + ": " + what);
}


// A finite decimal number and nothing else (no "nan", "inf", trailing text).
std::optional<double> parse_number(std::string_view text) {
  const std::string t(trim_space(text));
  if (t.empty()) return std::nullopt;
  double v = 0;
  const char* b = t.data();
  const char* e = b + t.size();
  if (*b == '+') ++b;
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_number(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

void check_scale(const ScoreScale& s, const std::string& where) {
  if (!(std::isfinite(s.lo) && std::isfinite(s.hi) && s.lo < s.hi)) {
    throw Error(ErrorCode::invalid_argument,
                where + ": score range [" + format_number(s.lo) + ", " + format_number(s.hi) + "] is not a valid range");
  }
}

void check_score(const Manifest& m, std::size_t line, double v) {
  const double tol = 1e-9 * (m.scale.hi - m.scale.lo);
  if (v < m.scale.lo - tol || v > m.scale.hi + tol) {
    fail(m.source, line, m.score_name + " " + format_number(v) + " is outside the declared score range " + m.scale.describe());
  }
}

// Finishes reading: duplicate check.
void check_duplicates(const Manifest& m, bool allow) {
  if (allow) return;
  std::unordered_map<std::string, std::size_t> seen;
  for (const auto& r : m.rows) {
    const auto [it, fresh] = seen.emplace(r.image, r.line);
    if (!fresh) fail(m.source, r.line, "duplicate image '" + r.image + "' (first on line " + std::to_string(it->second) + ")");
  }
}

ojson header_json(const Manifest& m) {
  ojson h;
  h["hawkeye_manifest"] = 1;
  h["form"] = m.form == ManifestForm::full_reference ? "fr" : "nr";
  h["score_field"] = m.score_name;
  h["score_range"] = {m.scale.lo, m.scale.hi};
  h["higher_better"] = m.scale.higher_better;
  return h;
}

// Reads a header / sidecar object; `what` names it in messages.
void apply_header(const ojson& h, Manifest& m, const std::string& what, bool take_scale) {
  auto bad = [&](const std::string& why) { throw Error(ErrorCode::parse, what + ": " + why); };
  if (!h.is_object()) bad("expected a JSON object");
  if (h.contains("form")) {
    const auto& f = h["form"];
    if (!f.is_string() || (f != "fr" && f != "nr")) bad("\"form\" must be \"fr\" or \"nr\"");
    m.form = f == "fr" ? ManifestForm::full_reference : ManifestForm::no_reference;
  }
  if (h.contains("score_field")) {
    if (!h["score_field"].is_string() || h["score_field"].get<std::string>().empty()) bad("\"score_field\" must be a non-empty string");
    m.score_name = h["score_field"].get<std::string>();
  }
  if (!take_scale) return;
  if (!h.contains("score_range") || !h["score_range"].is_array() || h["score_range"].size() != 2 ||
      !h["score_range"][0].is_number() || !h["score_range"][1].is_number()) {
    bad("\"score_range\" must be an array of two numbers [lo, hi]");
  }
  if (!h.contains("higher_better") || !h["higher_better"].is_boolean()) bad("\"higher_better\" must be true or false");
  m.scale.lo = h["score_range"][0].get<double>();
  m.scale.hi = h["score_range"][1].get<double>();
  m.scale.higher_better = h["higher_better"].get<bool>();
  check_scale(m.scale, what);
}

// Splits text into lines, joining lines while a quoted CSV field is open. Returns (first line number, text).
std::vector<std::pair<std::size_t, std::string>> csv_records(std::string_view text) {
  std::vector<std::pair<std::size_t, std::string>> out;
  std::size_t line = 0, pos = 0;
  std::string pending;
  std::size_t pending_line = 0;
  bool open = false;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view l = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    const auto quotes = static_cast<std::size_t>(std::count(l.begin(), l.end(), '"'));
    if (open) {
      pending += '\n';
      pending += l;
      if (quotes % 2 == 1) open = false;
    } else {
      pending.assign(l);
      pending_line = line;
      open = quotes % 2 == 1;
    }
    if (!open) out.emplace_back(pending_line, std::move(pending)), pending.clear();
  }
  if (open) out.emplace_back(pending_line, std::move(pending));  // csv_split reports the open quote
  return out;
}

bool names_reference(const std::string& h) {
  const std::string l = ascii_lower(h);
  return l.find("ref") != std::string::npos || l.rfind("hq", 0) == 0;
}
bool names_distorted(const std::string& h) { return ascii_lower(h).find("dis") != std::string::npos; }

}  // namespace

double ScoreScale::to_label(double raw) const {
  double t = (raw - lo) / (hi - lo);
  if (!higher_better) t = 1.0 - t;
  return std::clamp(1.0 + 4.0 * t, 1.0, 5.0);
}

double ScoreScale::from_label(double label) const {
  double t = (label - 1.0) / 4.0;
  if (!higher_better) t = 1.0 - t;
  return lo + t * (hi - lo);
}

std::string ScoreScale::describe() const {
  return "[" + format_number(lo) + ", " + format_number(hi) + "], " + (higher_better ? "higher" : "lower") + " is better";
}

std::filesystem::path Manifest::image_path(const ManifestRow& row) const {
  const std::filesystem::path p(row.image);
  return p.is_absolute() ? p : root / p;
}

std::filesystem::path Manifest::reference_path(const ManifestRow& row) const {
  if (row.reference.empty()) return {};
  const std::filesystem::path p(row.reference);
  return p.is_absolute() ? p : root / p;
}

std::vector<std::string> Manifest::extra_columns() const {
  std::vector<std::string> cols;
  for (const auto& r : rows)
    for (auto it = r.extra.begin(); it != r.extra.end(); ++it)
      if (std::find(cols.begin(), cols.end(), it.key()) == cols.end()) cols.push_back(it.key());
  return cols;
}

std::string Manifest::where(const ManifestRow& row) const {
  return source + (row.line ? ":" + std::to_string(row.line) : "");
}

std::string extra_text(const ManifestRow& row, const std::string& key) {
  const auto it = row.extra.find(key);
  if (it == row.extra.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_float()) return format_number(it->get<double>());
  return it->dump();
}

std::string distortion_type_column(const Manifest& m) {
  for (const char* col : {"type_name", "type"}) {
    for (const auto& row : m.rows)
      if (!extra_text(row, col).empty()) return col;
  }
  return "";
}

std::optional<double> extra_number(const ManifestRow& row, const std::string& key) {
  const auto it = row.extra.find(key);
  if (it == row.extra.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) return parse_number(it->get<std::string>());
  return std::nullopt;
}

// ---- known pyiqa score lists ----

const std::vector<KnownScoreList>& known_score_lists() {
  // Ranges: pyiqa's dataset_info.py where it has the dataset (live, csiq, tid, kadid, koniq, clive, spaq);
  // directions: the datasets' definitions (checked against the lists: e.g. LIVE's "mos" column grows as the
  // JPEG 2000 bit rate falls, so it is a DMOS).
  static const std::vector<KnownScoreList> lists = {
      {"meta_info_CSIQDataset.csv", "CSIQ", {0, 1, false}, "DMOS in [0, 1] (pyiqa)"},
      {"meta_info_KADID10kDataset.csv", "KADID-10k", {1, 5, true}, "column 'dmos' but higher is better (1..5)"},
      {"meta_info_KonIQ10k++Dataset.csv", "KonIQ-10k++", {1, 5, true}, "qmos on the 1..5 rating scale"},
      {"meta_info_KonIQ10kDataset.csv", "KonIQ-10k", {1, 100, true}, "split column: 0 train, 1 val, 2 test"},
      {"meta_info_LIVEChallengeDataset.csv", "LIVE Challenge", {1, 100, true}, "MOS (pyiqa clive)"},
      {"meta_info_LIVEIQADataset.csv", "LIVE IQA r2", {1, 100, false}, "column 'mos' holds DMOS (pyiqa live)"},
      {"meta_info_LIVEMDDataset.csv", "LIVE MD", {0, 100, false}, "DMOS; not in pyiqa's table, 0..100 assumed"},
      {"meta_info_PIPALDataset.csv", "PIPAL", {900, 1900, true},
       "Elo scores have no fixed range; [900, 1900] covers the published list (916.7..1836.0)"},
      {"meta_info_SPAQDataset.csv", "SPAQ", {1, 100, true}, "MOS (pyiqa spaq)"},
      {"meta_info_TID2008Dataset.csv", "TID2008", {0, 9, true}, "MOS (pyiqa tid)"},
      {"meta_info_TID2013Dataset.csv", "TID2013", {0, 9, true}, "MOS (pyiqa tid)"},
  };
  return lists;
}

const KnownScoreList* find_known_score_list(std::string_view file_name) {
  for (const auto& k : known_score_lists())
    if (k.file == file_name) return &k;
  return nullptr;
}

// ---- CSV ----

Manifest parse_manifest_csv(std::string_view text, const std::string& source, const ManifestReadOptions& opt) {
  Manifest m;
  m.source = source;
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF) {
    text.remove_prefix(3);  // UTF-8 byte order mark
  }
  const auto records = csv_records(text);
  std::size_t first = 0;
  while (first < records.size() && trim_space(records[first].second).empty()) ++first;
  if (first == records.size()) fail(source, 0, "empty manifest: no header line");
  auto split_record = [&](const std::pair<std::size_t, std::string>& rec) {
    try {
      return csv_split(rec.second);
    } catch (const Error& e) {
      fail(source, rec.first, e.what());
    }
  };
  // Header: trimmed names; repeated names get ".1", ".2" (SPAQ repeats "Brightness").
  const std::size_t header_line = records[first].first;
  std::vector<std::string> cols = split_record(records[first]);
  std::unordered_map<std::string, int> name_count;
  for (auto& c : cols) {
    c = std::string(trim_space(c));
    if (c.empty()) fail(source, header_line, "empty column name in the header");
    const int k = name_count[c]++;
    if (k > 0) c += "." + std::to_string(k);
  }
  m.form = opt.form ? *opt.form
                    : (cols.size() >= 3 && names_reference(cols[0]) && names_distorted(cols[1]) ? ManifestForm::full_reference
                                                                                                : ManifestForm::no_reference);
  const bool fr = m.form == ManifestForm::full_reference;
  const std::size_t needed = fr ? 3 : 2;
  if (cols.size() < needed) {
    fail(source, header_line,
         std::string("missing columns: the ") + (fr ? "FR form needs ref_name, dist_name, score" : "NR form needs name, score") +
             " (found " + std::to_string(cols.size()) + " column" + (cols.size() == 1 ? "" : "s") + ")");
  }
  const std::size_t image_col = fr ? 1 : 0, ref_col = 0;
  std::size_t score_col = fr ? 2 : 1;
  if (!opt.score_column.empty()) {
    const auto it = std::find(cols.begin(), cols.end(), opt.score_column);
    if (it == cols.end()) fail(source, header_line, "missing column '" + opt.score_column + "' (the requested score column)");
    score_col = static_cast<std::size_t>(it - cols.begin());
  }
  if (score_col == image_col || (fr && score_col == ref_col)) fail(source, header_line, "the score column cannot be a name column");
  std::optional<std::size_t> std_col, split_col;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i == image_col || i == score_col || (fr && i == ref_col)) continue;
    const std::string l = ascii_lower(cols[i]);
    if (!std_col && (l == "std" || l == "sd")) std_col = i;
    else if (!split_col && l == "split") split_col = i;
  }
  m.score_name = cols[score_col];

  // Scale: options, sidecar (handled by read_manifest), known list.
  const std::string file_name = std::filesystem::path(source).filename().string();
  if (opt.scale) {
    m.scale = *opt.scale;
  } else if (const KnownScoreList* k = find_known_score_list(file_name)) {
    m.scale = k->scale;
  } else {
    throw Error(ErrorCode::invalid_argument,
                source + ": no declared score range: give one (e.g. --scale 0:100:higher), or write a sidecar " + file_name +
                    ".meta.json with {\"score_range\": [lo, hi], \"higher_better\": true}");
  }
  check_scale(m.scale, source);

  for (std::size_t r = first + 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (trim_space(rec.second).empty()) continue;
    const std::vector<std::string> cells = split_record(rec);
    if (cells.size() != cols.size()) {
      fail(source, rec.first, std::to_string(cells.size()) + " cell" + (cells.size() == 1 ? "" : "s") + ", but the header (line " +
                                  std::to_string(header_line) + ") has " + std::to_string(cols.size()) + " columns");
    }
    ManifestRow row;
    row.line = rec.first;
    row.image = trim_space(cells[image_col]);
    if (row.image.empty()) fail(source, rec.first, "empty image name in column '" + cols[image_col] + "'");
    if (fr) {
      row.reference = trim_space(cells[ref_col]);
      if (row.reference.empty()) fail(source, rec.first, "empty reference name in column '" + cols[ref_col] + "'");
    }
    const auto score = parse_number(cells[score_col]);
    if (!score) fail(source, rec.first, "score '" + cells[score_col] + "' in column '" + cols[score_col] + "' is not a number");
    row.score = *score;
    check_score(m, rec.first, row.score);
    if (std_col && !trim_space(cells[*std_col]).empty()) {
      const auto s = parse_number(cells[*std_col]);
      if (!s || *s < 0) fail(source, rec.first, "std '" + cells[*std_col] + "' in column '" + cols[*std_col] + "' is not a number >= 0");
      row.std = *s;
    }
    if (split_col) row.split = trim_space(cells[*split_col]);
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i == image_col || i == score_col || (fr && i == ref_col) || i == std_col || i == split_col) continue;
      row.extra[cols[i]] = cells[i];
    }
    m.rows.push_back(std::move(row));
  }
  if (m.rows.empty()) fail(source, 0, "no rows after the header");
  check_duplicates(m, opt.allow_duplicate_images);
  return m;
}

// ---- JSON Lines ----

Manifest parse_manifest_jsonl(std::string_view text, const std::string& source, const ManifestReadOptions& opt) {
  Manifest m;
  m.source = source;
  m.score_name = "score";
  bool have_header = false, have_scale = false;
  bool form_given = false;
  std::size_t line = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string l(trim_space(std::string_view(text).substr(pos, nl - pos)));
    pos = nl + 1;
    ++line;
    if (l.empty()) continue;
    ojson j;
    try {
      j = ojson::parse(l);
    } catch (const nlohmann::json::parse_error& e) {
      std::string why = e.what();
      const auto p = why.find("parse error");
      fail(source, line, "invalid JSON: " + (p == std::string::npos ? why : why.substr(p)));
    }
    if (!j.is_object()) fail(source, line, "expected a JSON object, got " + std::string(j.type_name()));
    if (j.contains("hawkeye_manifest")) {
      if (have_header || !m.rows.empty()) fail(source, line, "the header object must be the first line, and only once");
      if (j["hawkeye_manifest"] != 1) fail(source, line, "unsupported manifest version " + j["hawkeye_manifest"].dump());
      form_given = j.contains("form");
      apply_header(j, m, source + ":" + std::to_string(line), !opt.scale);
      have_header = true;
      have_scale = !opt.scale;
      continue;
    }
    if (m.rows.empty() && !have_scale) {
      if (!opt.scale) {
        throw Error(ErrorCode::invalid_argument,
                    source + ": no declared score range: the first line must be a header like {\"hawkeye_manifest\": 1, "
                             "\"score_range\": [1, 5], \"higher_better\": true}, or give the scale explicitly");
      }
      m.scale = *opt.scale;
      check_scale(m.scale, source);
      have_scale = true;
    }
    if (opt.scale) m.scale = *opt.scale;
    if (!form_given && m.rows.empty()) {
      m.form = j.contains("reference") ? ManifestForm::full_reference : ManifestForm::no_reference;
    }
    ManifestRow row;
    row.line = line;
    auto text_field = [&](const char* key, bool required) -> std::string {
      if (!j.contains(key)) {
        if (required) fail(source, line, std::string("missing field \"") + key + "\"");
        return "";
      }
      if (!j[key].is_string() || trim_space(j[key].get<std::string>()).empty()) {
        fail(source, line, std::string("field \"") + key + "\" must be a non-empty string");
      }
      return std::string(trim_space(j[key].get<std::string>()));
    };
    row.image = text_field("image", true);
    row.reference = text_field("reference", m.form == ManifestForm::full_reference);
    if (!j.contains(m.score_name)) fail(source, line, "missing field \"" + m.score_name + "\" (the score)");
    const auto& s = j[m.score_name];
    std::optional<double> score;
    if (s.is_number()) score = s.get<double>();
    else if (s.is_string()) score = parse_number(s.get<std::string>());
    if (!score || !std::isfinite(*score)) fail(source, line, "score " + s.dump() + " in field \"" + m.score_name + "\" is not a number");
    row.score = *score;
    check_score(m, line, row.score);
    if (j.contains("std") && !j["std"].is_null()) {
      if (!j["std"].is_number() || j["std"].get<double>() < 0) fail(source, line, "field \"std\" must be a number >= 0");
      row.std = j["std"].get<double>();
    }
    if (j.contains("split") && !j["split"].is_null()) {
      if (!j["split"].is_string()) fail(source, line, "field \"split\" must be a string");
      row.split = j["split"].get<std::string>();
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k == "image" || k == "reference" || k == m.score_name || k == "std" || k == "split") continue;
      row.extra[k] = *it;
    }
    m.rows.push_back(std::move(row));
  }
  if (!have_header && !opt.scale) {
    throw Error(ErrorCode::invalid_argument, source + ": empty manifest (no header line and no rows)");
  }
  if (m.rows.empty()) fail(source, 0, "no rows");
  check_duplicates(m, opt.allow_duplicate_images);
  return m;
}

Manifest read_manifest(const std::filesystem::path& path, const ManifestReadOptions& options) {
  const std::string ext = ascii_lower(path.extension().string());
  if (ext != ".csv" && ext != ".jsonl") {
    throw Error(ErrorCode::invalid_argument,
                path.string() + ": unknown manifest type '" + ext + "' (expected .csv or .jsonl)");
  }
  const std::string text = read_file(path, options.max_bytes);
  ManifestReadOptions opt = options;
  Manifest m;
  if (ext == ".csv") {
    std::filesystem::path sidecar = path;
    sidecar += ".meta.json";
    std::error_code ec;
    if (!opt.scale && std::filesystem::exists(sidecar, ec)) {
      ojson h;
      try {
        h = ojson::parse(read_file(sidecar, 1 << 20));
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(ErrorCode::parse, sidecar.string() + ": invalid JSON: " + e.what());
      }
      Manifest probe;
      apply_header(h, probe, sidecar.string(), true);
      opt.scale = probe.scale;
      if (!opt.form && h.contains("form")) opt.form = probe.form;
    }
    m = parse_manifest_csv(text, path.string(), opt);
  } else {
    m = parse_manifest_jsonl(text, path.string(), opt);
  }
  m.root = options.root.empty() ? path.parent_path() : options.root;
  return m;
}

// ---- writers ----

nlohmann::ordered_json manifest_header(const Manifest& m) { return header_json(m); }

std::string manifest_to_csv(const Manifest& m) {
  const bool fr = m.form == ManifestForm::full_reference;
  const bool any_std = std::any_of(m.rows.begin(), m.rows.end(), [](const ManifestRow& r) { return std::isfinite(r.std); });
  const bool any_split = std::any_of(m.rows.begin(), m.rows.end(), [](const ManifestRow& r) { return !r.split.empty(); });
  std::vector<std::string> cols;
  if (fr) cols = {"ref_name", "dist_name"};
  else cols = {"img_name"};
  cols.push_back(m.score_name);
  if (any_std) cols.push_back("std");
  if (any_split) cols.push_back("split");
  for (const auto& c : m.extra_columns()) cols.push_back(c);
  std::ostringstream out;
  CsvWriter w(out, cols);
  for (const auto& r : m.rows) {
    ojson rec;
    if (fr) rec["ref_name"] = r.reference;
    rec[fr ? "dist_name" : "img_name"] = r.image;
    rec[m.score_name] = format_number(r.score);
    if (any_std && std::isfinite(r.std)) rec["std"] = format_number(r.std);
    if (any_split) rec["split"] = r.split;
    for (auto it = r.extra.begin(); it != r.extra.end(); ++it) rec[it.key()] = extra_text(r, it.key());
    w.write(rec);
  }
  return out.str();
}

std::string manifest_to_jsonl(const Manifest& m) {
  std::ostringstream out;
  JsonlWriter w(out);
  w.write(header_json(m));
  for (const auto& r : m.rows) {
    ojson rec;
    rec["image"] = r.image;
    if (m.form == ManifestForm::full_reference) rec["reference"] = r.reference;
    rec[m.score_name] = r.score;
    if (std::isfinite(r.std)) rec["std"] = r.std;
    if (!r.split.empty()) rec["split"] = r.split;
    for (auto it = r.extra.begin(); it != r.extra.end(); ++it) rec[it.key()] = *it;
    w.write(rec);
  }
  return out.str();
}

void write_manifest(const std::filesystem::path& path, const Manifest& m) {
  const std::string ext = ascii_lower(path.extension().string());
  if (ext == ".csv") {
    write_file_atomic(path, manifest_to_csv(m));
    std::filesystem::path sidecar = path;
    sidecar += ".meta.json";
    write_file_atomic(sidecar, header_json(m).dump(2) + "\n");
  } else if (ext == ".jsonl") {
    write_file_atomic(path, manifest_to_jsonl(m));
  } else {
    throw Error(ErrorCode::invalid_argument, path.string() + ": unknown manifest type '" + ext + "' (expected .csv or .jsonl)");
  }
}

}  // namespace hawkeye
