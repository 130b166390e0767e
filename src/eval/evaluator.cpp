#include "hawkeye/eval/evaluator.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/eval/scatter_plot.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/model_dir.h"

namespace hawkeye::eval {

namespace {

std::string absolute_text(const std::string& path) {
  std::error_code ec;
  const auto abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

ordered_json predictions_header(const model::IqaModel& m, const Manifest& manifest, const model::ScoreOptions& score) {
  ordered_json h;
  h["hawkeye_predictions"] = 1;
  h["model"] = m.id();
  h["model_hash"] = model::model_fingerprint(m.dir());  // two models may share an id (a retrained one)
  h["model_path"] = absolute_text(m.dir().dir.string());
  h["data"] = absolute_text(manifest.source);
  h["sampling"] = sampling_json(score);
  return h;
}

struct PreviousRun {
  std::map<std::string, nlohmann::json> rows;  // image -> its line
  std::string kept;                            // the file's complete, valid lines (rewritten when torn)
  bool torn = false;
};

// Reads an earlier predictions.jsonl for --resume and checks that it belongs to this evaluation.
PreviousRun read_previous(const fs::path& path, const ordered_json& header) {
  PreviousRun prev;
  const std::string text = read_file(path);
  std::size_t pos = 0, line_no = 0;
  bool have_header = false;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos;
    const std::string line = text.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      if (last) {  // a crash while writing the last line: dropped, that image is scored again
        prev.torn = true;
        break;
      }
      throw Error(ErrorCode::parse, path.string() + ":" + std::to_string(line_no) + ": not a JSON line; the predictions file is damaged");
    }
    if (last) prev.torn = true;  // complete JSON but no newline: keep it, and rewrite the file with one
    if (!have_header) {
      if (!j.is_object() || !j.contains("hawkeye_predictions")) {
        throw Error(ErrorCode::parse, path.string() + ":1: not a hawkeye predictions file (no run line)");
      }
      if (!j.contains("model_hash")) {
        spdlog::warn("{}: written before predictions named the model's hash: cannot check that it is the same model", path.string());
      }
      for (const char* key : {"model", "model_hash", "data", "sampling"}) {
        if (std::string(key) == "model_hash" && !j.contains(key)) continue;
        if (j[key] != nlohmann::json(header[key])) {
          throw Error(ErrorCode::invalid_argument, path.string() + ": cannot resume: it was written with " + key + " " +
                                                       j[key].dump() + ", this run has " + header[key].dump() +
                                                       " (use another --out, or the same settings)");
        }
      }
      have_header = true;
    } else {
      if (!j.is_object() || !j.contains("image") || !j["image"].is_string() || !j.contains("status")) {
        throw Error(ErrorCode::parse, path.string() + ":" + std::to_string(line_no) + ": a prediction needs \"image\" and \"status\"");
      }
      // The lossless name when the file name is not UTF-8 (its "image" then holds U+FFFD in place of bytes).
      const auto escaped = j.find("image_escaped");
      const bool lossless = escaped != j.end() && escaped->is_string();
      prev.rows[lossless ? unescape_bytes(escaped->get<std::string>()) : j["image"].get<std::string>()] = j;
    }
    prev.kept += line + "\n";
  }
  if (!have_header) throw Error(ErrorCode::parse, path.string() + ": empty predictions file (no run line)");
  return prev;
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

// An integer extra field within [lo, hi], else 0 (absent, not a number, not whole, out of range).
int whole_extra(const ManifestRow& row, const std::string& key, int lo, int hi) {
  const auto v = extra_number(row, key);
  if (!v || *v != std::floor(*v) || *v < lo || *v > hi) return 0;
  return static_cast<int>(*v);
}

std::string protocol_text(const EvalReport& r, const model::ScoreOptions& score) {
  std::ostringstream s;
  s << "Every image of the manifest (" << (r.evaluated_rows == r.data_rows ? "all " + std::to_string(r.data_rows) + " rows"
                                                                         : "the first " + std::to_string(r.evaluated_rows) + " of " +
                                                                               std::to_string(r.data_rows) + " rows")
    << ") is scored by the model "
    << (score.samples > 0 ? "with " + std::to_string(score.samples) +
                                " sampled answers (the prediction is the mean of the answers that parse; their population "
                                "standard deviation is the image's spread)"
                          : score.readout == model::Readout::expected
                                ? std::string("with greedy decoding (one answer); the prediction is the expected value of the "
                                              "answer's number under the model's probabilities of its digits after the greedy "
                                              "reasoning (readout 'expected')")
                          : score.readout == model::Readout::head
                                ? std::string("with greedy decoding (one answer, whose reasoning is kept); the prediction is "
                                              "the vision tower's auxiliary-head score of the image (readout 'head'); every image that loads gets one, "
                                              "whether or not its answer parses")
                                : std::string("with greedy decoding (one answer)"))
    << ", at most " << score.sampling.max_new_tokens
    << " new tokens. Labels are the manifest's '" << r.score_name << "' scores (" << r.scale
    << ") mapped linearly onto [1, 5], 5 = best. Images that fail to load or whose answer does not parse get no "
       "prediction; they are counted and left out of the statistics, never replaced by a guess. SRCC (Spearman, average "
       "ranks for ties), KRCC (Kendall tau-b), PLCC and RMSE are computed on the raw predictions; PLCC and RMSE 'fitted' "
       "after the 4-parameter logistic f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2 fitted by Levenberg-Marquardt "
       "on all predictions against the labels (VQEG).";
  if (!r.type_column.empty()) {
    s << " Per distortion type (manifest column '" << r.type_column
      << "'): SRCC, KRCC and PLCC on the raw predictions of that type; PLCC and RMSE fitted through the overall "
         "logistic mapping (not refitted per type).";
  }
  return s.str();
}

}  // namespace

EvalReport evaluate(model::IqaModel& model, const Manifest& manifest, const EvalOptions& options) {
  model::check_score_options(model, options.score);  // before the predictions file is touched
  EvalReport r;
  r.model = model_json(model);
  r.sampling = sampling_json(options.score);
  r.device = model::device_name(model.policy().device());
  r.data_path = absolute_text(manifest.source);
  r.data_rows = manifest.rows.size();
  r.evaluated_rows = options.max_images > 0 ? std::min<std::size_t>(manifest.rows.size(), options.max_images) : manifest.rows.size();
  r.data_form = manifest.form == ManifestForm::full_reference ? "fr" : "nr";
  r.score_name = manifest.score_name;
  r.scale = manifest.scale.describe();
  r.type_column = distortion_type_column(manifest);
  r.protocol = protocol_text(r, options.score);

  // Earlier predictions (resume), then the file this run appends to.
  const ordered_json header = predictions_header(model, manifest, options.score);
  PreviousRun prev;
  std::ofstream file;
  if (!options.predictions.empty()) {
    std::error_code ec;
    const bool exists = fs::exists(options.predictions, ec);
    if (options.resume && exists) {
      prev = read_previous(options.predictions, header);
      if (prev.torn) write_file_atomic(options.predictions, prev.kept);
      file.open(options.predictions, std::ios::binary | std::ios::app);
    } else {
      if (!options.predictions.parent_path().empty()) fs::create_directories(options.predictions.parent_path());
      file.open(options.predictions, std::ios::binary | std::ios::trunc);
      if (file) JsonlWriter(file).write(sanitize_json(header));
    }
    if (!file) throw Error(ErrorCode::io, options.predictions.string() + ": cannot open for writing");
  }

  r.predictions.resize(r.evaluated_rows);
  std::vector<fs::path> paths;
  std::vector<std::string> ids;
  std::vector<std::size_t> rows_to_score;
  for (std::size_t i = 0; i < r.evaluated_rows; ++i) {
    const ManifestRow& row = manifest.rows[i];
    Prediction& p = r.predictions[i];
    p.image = row.image;
    p.label = manifest.label(row);
    if (!r.type_column.empty()) p.type = extra_text(row, r.type_column);
    p.type_id = whole_extra(row, "type_id", 1, kKadidTypeCount);
    p.level = whole_extra(row, "level", 1, kKadidLevelCount);
    const auto it = prev.rows.find(row.image);
    if (it != prev.rows.end()) {
      p.resumed = true;
      const auto status_name = it->second["status"].get<std::string>();
      p.status = score_status_from_name(status_name);
      if (!p.status) {
        throw Error(ErrorCode::parse, options.predictions.string() + ": " + row.image + ": unknown status \"" + status_name + "\"");
      }
      const auto reasoning = it->second.find("reasoning");
      if (reasoning != it->second.end() && reasoning->is_string()) p.reasoning = reasoning->get<std::string>();
      p.score = p.status == ScoreStatus::ok ? number_or_nan(it->second, "score") : kNaN;
      p.std = number_or_nan(it->second, "std");
      p.tokens = static_cast<std::int64_t>(std::isfinite(number_or_nan(it->second, "tokens")) ? number_or_nan(it->second, "tokens") : 0);
      ++r.resumed_rows;
      continue;
    }
    paths.push_back(manifest.image_path(row));
    ids.push_back(row.image);  // seeds follow the manifest's name, not where the data lives
    rows_to_score.push_back(i);
  }

  std::size_t done = r.resumed_rows;
  if (options.on_progress) options.on_progress(done, r.evaluated_rows);
  BatchScoringOptions bo;
  bo.score = options.score;
  bo.batch = options.batch;
  bo.loader_threads = options.loader_threads;
  bo.limits = options.limits;
  bo.stop = options.stop;
  bo.threads = options.threads;
  const auto summary = score_files(model, paths, ids, bo, [&](const ScoredImage& s) {
    const std::size_t i = rows_to_score[s.index];
    Prediction& p = r.predictions[i];
    p.status = s.status;
    p.score = s.scored() ? s.result.score : kNaN;
    p.std = s.result.std;
    p.tokens = s.result.tokens;
    p.reasoning = s.result.reasoning;
    if (file.is_open()) {
      ordered_json line;
      line["image"] = p.image;
      if (!is_valid_utf8(p.image)) line["image_escaped"] = escape_bytes(p.image);
      line["label"] = p.label;
      if (!r.type_column.empty()) line["type"] = p.type;
      RecordFields fields;
      fields.answer = options.score.readout != model::Readout::answer;
      const ordered_json rec = image_record(s, model.contract(), options.score.samples, fields);
      for (auto it = rec.begin(); it != rec.end(); ++it) line[it.key()] = it.value();
      JsonlWriter(file).write(sanitize_json(line));
      if (!file) {
        const int e = errno;  // what the failed write(2) left, e.g. "No space left on device"
        throw Error(ErrorCode::io, options.predictions.string() + ": write failed: " + (e != 0 ? std::strerror(e) : "stream error"));
      }
    }
    if (options.on_progress) options.on_progress(++done, r.evaluated_rows);
  });
  r.seconds = summary.seconds;
  r.images_this_run = summary.images;
  r.complete = !summary.stopped;
  if (summary.images > summary.load_failures) {
    r.tokens_per_image = static_cast<double>(summary.generated_tokens) / static_cast<double>(summary.images - summary.load_failures);
  }

  // Statistics over the images with a prediction (rows never reached when stopped have no status).
  std::vector<double> pred, label;
  double std_sum = 0;
  std::size_t std_n = 0;
  for (const Prediction& p : r.predictions) {
    if (!p.status) continue;
    if (p.status == ScoreStatus::load_error) ++r.load_failures;
    else if (!std::isfinite(p.score)) ++r.parse_failures;
    if (!std::isfinite(p.score)) continue;
    pred.push_back(p.score);
    label.push_back(p.label);
    if (std::isfinite(p.std)) std_sum += p.std, ++std_n;
  }
  if (std_n > 0) r.mean_sample_std = std_sum / static_cast<double>(std_n);
  r.correlation = correlate(pred, label, options.correlation);

  if (!r.type_column.empty()) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<const Prediction*>> groups;
    for (const Prediction& p : r.predictions) {
      if (!p.status) continue;
      if (!groups.count(p.type)) order.push_back(p.type);
      groups[p.type].push_back(&p);
    }
    for (const std::string& type : order) {
      TypeBreakdown t;
      t.type = type;
      std::vector<double> x, y, fx;
      for (const Prediction* p : groups[type]) {
        ++t.rows;
        if (p->status == ScoreStatus::load_error) ++t.load_failures;
        else if (!std::isfinite(p->score)) ++t.parse_failures;
        if (!std::isfinite(p->score)) continue;
        x.push_back(p->score);
        y.push_back(p->label);
        fx.push_back(r.correlation.logistic.map(p->score));
      }
      t.n = x.size();
      t.srcc = srcc(x, y);
      t.krcc = krcc(x, y);
      t.plcc = plcc(x, y);
      if (r.correlation.logistic.fitted) {
        t.plcc_fitted = plcc(fx, y);
        t.rmse_fitted = rmse(fx, y);
      } else {
        t.plcc_fitted = r.correlation.plcc_fitted;  // undefined, with the fit's reason
        t.rmse_fitted = r.correlation.rmse_fitted;
      }
      r.per_type.push_back(std::move(t));
    }
  }

  // Reasoning families: only for manifests with KADID type ids (hawkeye synth sets).
  if (std::any_of(r.predictions.begin(), r.predictions.end(), [](const Prediction& p) { return p.type_id > 0; })) {
    ReasoningFamilyTally tally;
    for (const Prediction& p : r.predictions) {
      if (!p.status) continue;
      if (p.status == ScoreStatus::load_error || p.type_id == 0) {
        ++tally.not_judged;
        continue;
      }
      tally.add(p.type_id, p.level, p.label, p.reasoning);
    }
    r.reasoning = std::move(tally);
  }
  return r;
}

ordered_json EvalReport::to_json() const {
  auto stat = [](const Statistic& s) { return std::isfinite(s.value) ? ordered_json(s.value) : ordered_json(nullptr); };
  ordered_json j;
  j["hawkeye_eval"] = 1;
  j["model"] = model;
  ordered_json d;
  d["path"] = data_path;
  d["rows"] = data_rows;
  d["evaluated_rows"] = evaluated_rows;
  d["form"] = data_form;
  d["score_field"] = score_name;
  d["scale"] = scale;
  d["labels"] = "mapped onto [1, 5], 5 = best";
  d["type_column"] = type_column.empty() ? ordered_json(nullptr) : ordered_json(type_column);
  j["data"] = d;
  j["protocol"] = protocol;
  j["sampling"] = sampling;
  j["device"] = device;
  j["complete"] = complete;
  const ordered_json c = hawkeye::to_json(correlation);
  for (auto it = c.begin(); it != c.end(); ++it) {
    j[it.key()] = it.value();
    if (it.key() == "n") {
      j["parse_failures"] = parse_failures;
      j["load_failures"] = load_failures;
    }
  }
  j["mean_sample_std"] = std::isfinite(mean_sample_std) ? ordered_json(mean_sample_std) : ordered_json(nullptr);
  ordered_json types = ordered_json::array();
  for (const auto& t : per_type) {
    ordered_json e;
    e["type"] = t.type;
    e["rows"] = t.rows;
    e["n"] = t.n;
    e["parse_failures"] = t.parse_failures;
    e["load_failures"] = t.load_failures;
    e["srcc"] = stat(t.srcc);
    e["krcc"] = stat(t.krcc);
    e["plcc"] = stat(t.plcc);
    e["plcc_fitted"] = stat(t.plcc_fitted);
    e["rmse_fitted"] = stat(t.rmse_fitted);
    types.push_back(std::move(e));
  }
  j["per_type"] = types;
  if (reasoning) j["reasoning"] = reasoning->to_json();
  ordered_json timing;
  timing["seconds"] = seconds;
  timing["images_this_run"] = images_this_run;
  timing["images_per_second"] = images_per_second();
  timing["resumed_rows"] = resumed_rows;
  timing["tokens_per_image"] = tokens_per_image;
  timing["model_load_seconds"] = model_load_seconds;
  j["timing"] = timing;
  j["versions"] = versions_json();
  return sanitize_json(j);
}

PathLock open_eval_folder(const fs::path& dir, bool resume) {
  // One evaluation per folder at a time: a second one would append duplicate rows to predictions.jsonl.
  PathLock lock = lock_directory(dir, "evaluation folder " + dir.string());
  remove_stale_temporaries(dir);
  std::error_code ec;
  const bool earlier_run = fs::exists(dir / "predictions.jsonl", ec);
  if (!resume && earlier_run) {
    throw Error(ErrorCode::invalid_argument, dir.string() + " already holds predictions.jsonl: add --resume to continue that "
                                                            "evaluation, or choose another --out");
  }
  // report.json and scatter.png are replaced only when they belong to the evaluation being continued: without
  // its predictions.jsonl they are somebody else's files.
  if (!earlier_run) {
    for (const char* name : {"report.json", "scatter.png"}) {
      if (fs::exists(dir / name, ec)) {
        throw Error(ErrorCode::invalid_argument, (dir / name).string() + ": exists and is not the output of an evaluation "
                                                 "here (no predictions.jsonl beside it); choose another --out");
      }
    }
  }
  return lock;
}

std::string scatter_title(const EvalReport& r) {
  auto fmt = [](double v) {
    if (!std::isfinite(v)) return std::string("n/a");
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::string(buf);
  };
  // The data set by its folder and file (".../live-set/test.jsonl": "live-set/test.jsonl"), the PLCC named as fitted.
  const fs::path data_path(r.data_path);
  const std::string folder = data_path.parent_path().filename().string();
  const std::string data_name = (folder.empty() || folder == "." ? "" : folder + "/") + data_path.filename().string();
  return r.model.value("id", std::string("model")) + " on " + data_name + ": SRCC " + fmt(r.correlation.srcc.value) +
         (r.correlation.logistic.fitted ? ", PLCC (fitted) " + fmt(r.correlation.plcc_fitted.value)
                                        : ", PLCC " + fmt(r.correlation.plcc.value) + " (fit failed)") +
         " (n = " + std::to_string(r.correlation.n) + ")";
}

void write_eval_outputs(const fs::path& dir, const EvalReport& r, int width, int height) {
  fs::create_directories(dir);
  ScatterPlot plot;
  plot.title = scatter_title(r);
  plot.x_label = "predicted score";
  plot.y_label = "label: " + r.score_name + " mapped onto 1-5";
  std::map<std::string, int> group;
  for (const auto& p : r.predictions) {
    if (!std::isfinite(p.score)) continue;
    const auto [it, fresh] = group.emplace(p.type, static_cast<int>(plot.groups.size()));
    if (fresh) plot.groups.push_back(p.type);
    plot.points.push_back({p.score, p.label, it->second});
  }
  const auto range = r.model.contains("range") ? r.model["range"] : ordered_json::array({1.0, 5.0});
  plot.x_min = range[0].get<double>();
  plot.x_max = range[1].get<double>();
  for (const auto& pt : plot.points) plot.x_min = std::min(plot.x_min, pt.x), plot.x_max = std::max(plot.x_max, pt.x);
  plot.y_min = 1;
  plot.y_max = 5;
  // A little room around the ranges, so points on the bounds are drawn whole.
  const double xpad = 0.03 * (plot.x_max - plot.x_min), ypad = 0.03 * (plot.y_max - plot.y_min);
  plot.x_min -= xpad, plot.x_max += xpad, plot.y_min -= ypad, plot.y_max += ypad;
  if (r.correlation.logistic.fitted) {
    const LogisticFit fit = r.correlation.logistic;
    plot.curve = [fit](double x) { return fit.map(x); };
    plot.curve_label = "logistic fit";
  }
  write_file_atomic(dir / "report.json", r.to_json().dump(2) + "\n");
  write_scatter_png(dir / "scatter.png", plot, width, height);
}

}  // namespace hawkeye::eval
