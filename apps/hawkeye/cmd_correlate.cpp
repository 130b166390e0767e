// hawkeye correlate --pred FILE --gt FILE [--pred-col C --gt-col C --key K]: SRCC, PLCC (raw and after the
// 4-parameter logistic), KRCC and RMSE of predictions against opinion scores, as JSON.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "cli.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/metrics/correlation.h"

namespace hawkeye::cli {

namespace {

// A CSV (with a header row) or JSON Lines file as rows of cells; JSON values are kept as their text.
struct Table {
  std::string source;
  std::vector<std::string> columns;
  struct Row {
    std::size_t line = 0;
    std::map<std::string, std::string> cells;
    std::map<std::string, bool> is_null;
  };
  std::vector<Row> rows;
  bool has(const std::string& c) const { return std::find(columns.begin(), columns.end(), c) != columns.end(); }
};


Table read_table(const fs::path& path) {
  Table t;
  t.source = path.string();
  const std::string text = read_file(path, 1ull << 30);
  std::istringstream in(text);
  std::string line;
  std::size_t n = 0;
  const std::string ext = path.extension().string();
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") {
    while (std::getline(in, line)) {
      ++n;
      if (trim_space(line).empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::parse, t.source + " line " + std::to_string(n) + ": not JSON (" + e.what() + ")");
      }
      if (!j.is_object()) throw Error(ErrorCode::parse, t.source + " line " + std::to_string(n) + ": not a JSON object");
      // Header lines of hawkeye's own files (score/eval run records, manifests) describe the file, not a row.
      if (j.contains("hawkeye_score") || j.contains("hawkeye_predictions") || j.contains("hawkeye_manifest")) continue;
      Table::Row row;
      row.line = n;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!t.has(it.key())) t.columns.push_back(it.key());
        row.cells[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
        row.is_null[it.key()] = it->is_null();
      }
      t.rows.push_back(std::move(row));
    }
    return t;
  }
  if (!std::getline(in, line)) throw Error(ErrorCode::parse, t.source + ": empty file (a CSV needs a header row)");
  ++n;
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);  // UTF-8 byte order mark
  for (const std::string& c : csv_split(std::string(trim_space(line)))) t.columns.emplace_back(trim_space(c));
  while (std::getline(in, line)) {
    ++n;
    if (trim_space(line).empty()) continue;
    std::vector<std::string> cells;
    try {
      cells = csv_split(std::string(trim_space(line)));
    } catch (const Error& e) {
      throw Error(ErrorCode::parse, t.source + " line " + std::to_string(n) + ": " + e.what());
    }
    if (cells.size() != t.columns.size()) {
      throw Error(ErrorCode::parse, t.source + " line " + std::to_string(n) + ": " + std::to_string(cells.size()) +
                                        " cells, but the header has " + std::to_string(t.columns.size()));
    }
    Table::Row row;
    row.line = n;
    for (std::size_t i = 0; i < cells.size(); ++i) row.cells[t.columns[i]] = trim_space(cells[i]);
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string column_list(const Table& t) {
  std::string s;
  for (const auto& c : t.columns) s += (s.empty() ? "'" : ", '") + c + "'";
  return s;
}

// The column given, or the first of the usual names present.
std::string pick_column(const Table& t, const std::string& given, const std::vector<std::string>& usual, const char* what,
                        const char* flag) {
  if (!given.empty()) {
    if (!t.has(given)) {
      throw Error(ErrorCode::invalid_argument, t.source + ": no column '" + given + "' (columns: " + column_list(t) + ")");
    }
    return given;
  }
  for (const auto& c : usual) {
    if (t.has(c)) return c;
  }
  throw Error(ErrorCode::invalid_argument, t.source + ": no " + what + " column found (columns: " + column_list(t) +
                                               "); name it with " + flag);
}

double number_at(const Table& t, const Table::Row& row, const std::string& col, const char* what) {
  const std::string where = t.source + " line " + std::to_string(row.line) + ": " + what + " '" + col + "'";
  const auto null = row.is_null.find(col);
  const std::string& text = row.cells.at(col);
  if ((null != row.is_null.end() && null->second) || text.empty()) {
    throw Error(ErrorCode::parse, where + " is empty (drop rows that failed, e.g. those with an \"error\" field)");
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') throw Error(ErrorCode::parse, where + " holds '" + text + "', not a number");
  if (!std::isfinite(v)) {
    throw Error(ErrorCode::invalid_argument, where + " is " + text + "; correlations need finite numbers (drop the row or fix its source)");
  }
  return v;
}

std::string join_key(const std::string& key, bool basename) {
  if (!basename) return key;
  const auto slash = key.find_last_of("/\\");
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

struct Keyed {
  std::map<std::string, std::pair<double, std::size_t>> values;  // key -> (value, line)
  std::vector<std::string> order;                                // keys in file order
};

Keyed keyed_values(const Table& t, const std::string& key_col, const std::string& value_col, bool basename,
                   const char* what) {
  Keyed k;
  for (const Table::Row& row : t.rows) {
    const auto it = row.cells.find(key_col);
    if (it == row.cells.end() || it->second.empty()) {
      throw Error(ErrorCode::parse, t.source + " line " + std::to_string(row.line) + ": no key in column '" + key_col + "'");
    }
    const std::string key = join_key(it->second, basename);
    const double v = number_at(t, row, value_col, what);
    const auto [pos, inserted] = k.values.emplace(key, std::make_pair(v, row.line));
    if (!inserted) {
      throw Error(ErrorCode::invalid_argument, t.source + " line " + std::to_string(row.line) + ": key '" + key +
                                                   "' appears twice (first on line " + std::to_string(pos->second.second) + ")");
    }
    k.order.push_back(key);
  }
  return k;
}

struct CorrelateCommand {
  std::string pred, gt, pred_col, gt_col, key, pred_key, gt_key, match = "exact";
  int bootstrap = 0;
  double confidence = 0.95;
  int max_iterations = 1000;
};

void run_correlate(const CorrelateCommand& o, Context& ctx) {
  const Table pred = read_table(o.pred), gt = read_table(o.gt);
  const std::vector<std::string> usual_keys = {"name", "image", "dist_name", "img_name", "filename", "Image name", "path"};
  const std::string pred_key = pick_column(pred, o.pred_key.empty() ? o.key : o.pred_key, usual_keys, "key", "--key or --pred-key");
  const std::string gt_key = pick_column(gt, o.gt_key.empty() ? o.key : o.gt_key, usual_keys, "key", "--key or --gt-key");
  const std::string pred_col = pick_column(pred, o.pred_col, {"score", "pred", "prediction"}, "prediction", "--pred-col");
  const std::string gt_col = pick_column(gt, o.gt_col, {"mos", "dmos", "MOS", "qmos", "score", "elo_score"}, "score", "--gt-col");
  const bool basename = o.match == "basename";
  const Keyed p = keyed_values(pred, pred_key, pred_col, basename, "prediction");
  const Keyed g = keyed_values(gt, gt_key, gt_col, basename, "score");

  std::vector<double> xs, ys;
  std::vector<std::string> unmatched_pred, unmatched_gt;
  for (const std::string& k : p.order) {
    const auto it = g.values.find(k);
    if (it == g.values.end()) {
      unmatched_pred.push_back(k);
      continue;
    }
    xs.push_back(p.values.at(k).first);
    ys.push_back(it->second.first);
  }
  for (const std::string& k : g.order) {
    if (!p.values.count(k)) unmatched_gt.push_back(k);
  }
  if (xs.empty()) {
    const std::string a = p.order.empty() ? "(none)" : p.order.front(), b = g.order.empty() ? "(none)" : g.order.front();
    throw Error(ErrorCode::invalid_argument,
                "no key of " + pred.source + " matches one of " + gt.source + " (e.g. '" + a + "' vs '" + b + "')" +
                    (basename ? "" : "; if they differ by folder, add --match basename"));
  }
  if (!unmatched_pred.empty() || !unmatched_gt.empty()) {
    std::cerr << "hawkeye: correlating the " << xs.size() << " matched keys; " << unmatched_pred.size()
              << " predictions and " << unmatched_gt.size() << " scores have no partner (listed under \"unmatched\")\n";
  }
  CorrelationOptions co;
  co.logistic.max_iterations = o.max_iterations;
  co.bootstrap = {o.bootstrap, o.confidence, ctx.global.seed};
  const CorrelationReport rep = correlate(xs, ys, co);

  ordered_json j;
  j["pred"] = pred.source;
  j["gt"] = gt.source;
  j["pred_col"] = pred_col;
  j["gt_col"] = gt_col;
  j["pred_key"] = pred_key;
  j["gt_key"] = gt_key;
  j["match"] = o.match;
  auto first_few = [](const std::vector<std::string>& v) {
    return std::vector<std::string>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(v.size(), 10)));
  };
  j["unmatched"] = {{"pred", unmatched_pred.size()},
                    {"gt", unmatched_gt.size()},
                    {"pred_examples", first_few(unmatched_pred)},
                    {"gt_examples", first_few(unmatched_gt)}};
  const ordered_json stats = to_json(rep);
  for (auto it = stats.begin(); it != stats.end(); ++it) j[it.key()] = it.value();
  std::cout << j.dump(2) << "\n";
  // The JSON is printed either way; an undefined SRCC or PLCC is a numerical failure for scripts.
  ctx.exit_code = rep.srcc.defined() && rep.plcc.defined() ? kExitOk : exit_status(ErrorCode::numerical);
}

}  // namespace

void add_correlate_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<CorrelateCommand>();
  auto* sub = app.add_subcommand("correlate", "SRCC, PLCC (raw and logistic-fitted), KRCC and RMSE of predictions vs opinion scores");
  sub->fallthrough();
  sub->add_option("--pred", opts->pred, "Predictions: CSV with a header row, or JSON Lines (.jsonl)")->required();
  sub->add_option("--gt", opts->gt, "Opinion scores (MOS/DMOS): CSV with a header row, or JSON Lines")->required();
  sub->add_option("--pred-col", opts->pred_col, "Prediction column (default: score, pred or prediction)");
  sub->add_option("--gt-col", opts->gt_col, "Score column (default: mos, dmos, MOS, qmos, score or elo_score)");
  sub->add_option("--key", opts->key, "Column joining the two files (default: name, image, dist_name, img_name, filename, ...)");
  sub->add_option("--pred-key", opts->pred_key, "Key column of --pred when it differs from --gt's");
  sub->add_option("--gt-key", opts->gt_key, "Key column of --gt when it differs from --pred's");
  sub->add_option("--match", opts->match, "Compare keys exactly (default) or by file name only (basename)")
      ->check(CLI::IsMember({"exact", "basename"}));
  sub->add_option("--bootstrap", opts->bootstrap, "Resamples for percentile confidence intervals (0 = off)")
      ->check(CLI::Range(0, 1000000));
  sub->add_option("--confidence", opts->confidence, "Confidence level of the intervals")->check(CLI::Range(0.5, 0.999999));
  sub->add_option("--max-iterations", opts->max_iterations, "Levenberg-Marquardt iterations of the logistic fit")
      ->check(CLI::Range(1, 100000));
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
    run_correlate(*opts, ctx);
  });
}

}  // namespace hawkeye::cli
