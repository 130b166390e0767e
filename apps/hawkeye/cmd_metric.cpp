// hawkeye metric NAME[,NAME…] [--ref REF_OR_DIR] IMG_OR_DIR… [--format jsonl|csv]   one record per image and metric
// hawkeye metric NAME[,NAME…] --data MANIFEST [--out DIR] [--json]                   the eval protocol for classical metrics
// hawkeye metric --list
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/image/inputs.h"
#include "hawkeye/image/io.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/metrics/registry.h"

namespace hawkeye::cli {

namespace {

struct MetricCommand {
  std::string name;  // one metric, a comma-separated list, or "all"
  std::vector<std::string> inputs;
  std::string files_from;  // --files-from FILE|-: more inputs, one per line
  std::string ref;
  std::string data, scale, root, out;  // --data MANIFEST mode
  std::string format = "jsonl";
  bool list = false;
  bool downsample = false;
  bool json = false, force = false;
  std::string brisque_model, brisque_range, niqe_model;
  ImageLimits limits;
};

std::string range_text(const MetricInfo& m) {
  std::ostringstream s;
  s << m.lowest << " .. ";
  if (std::isinf(m.highest)) s << "+inf";
  else s << m.highest;
  if (!m.unit.empty()) s << " " << m.unit;
  return s.str();
}

ordered_json info_json(const MetricInfo& m) {
  ordered_json j;
  j["metric"] = m.name;
  j["kind"] = m.kind == MetricKind::full_reference ? "FR" : "NR";
  j["lowest"] = m.lowest;
  j["highest"] = m.highest;  // null when unbounded
  j["higher_is_better"] = m.higher_is_better;
  j["unit"] = m.unit;
  j["description"] = m.description;
  return sanitize_json(j);
}

void print_list(const MetricCommand& o, bool format_given) {
  if (!format_given) {
    int width = 6;  // the name column: the longest name and two spaces
    for (const MetricInfo& m : list_metrics()) width = std::max(width, static_cast<int>(m.name.size()) + 2);
    std::cout << std::left << std::setw(width) << "name" << std::setw(5) << "kind" << std::setw(18) << "range"
              << std::setw(8) << "better" << "description\n";
    for (const MetricInfo& m : list_metrics()) {
      std::cout << std::left << std::setw(width) << m.name << std::setw(5)
                << (m.kind == MetricKind::full_reference ? "FR" : "NR") << std::setw(18) << range_text(m) << std::setw(8)
                << (m.higher_is_better ? "higher" : "lower") << m.description << "\n";
    }
    return;
  }
  if (o.format == "csv") {
    CsvWriter w(std::cout, {"metric", "kind", "lowest", "highest", "higher_is_better", "unit", "description"});
    for (const MetricInfo& m : list_metrics()) w.write(info_json(m));
  } else {
    JsonlWriter w(std::cout);
    for (const MetricInfo& m : list_metrics()) w.write(info_json(m));
  }
}

bool is_fr(const MetricInfo& m) { return m.kind == MetricKind::full_reference; }

// "ssim", "ssim,psnr,brisque_opencv" or "all" (every metric that the references at hand allow). Unknown names are
// errors with a suggestion (metric_info); a name given twice counts once.
std::vector<const MetricInfo*> parse_metric_names(const std::string& text, bool references_available) {
  std::vector<const MetricInfo*> out;
  if (ascii_lower(std::string(trim_space(text))) == "all") {
    for (const MetricInfo& m : list_metrics())
      if (references_available || !is_fr(m)) out.push_back(&m);
    return out;
  }
  for (const std::string& part : split_on(text, ',')) {
    const std::string name(trim_space(part));
    if (name.empty()) throw Error(ErrorCode::invalid_argument, "'" + text + "': an empty metric name in the list");
    const MetricInfo* m = &metric_info(name);
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

MetricOptions metric_options(const MetricCommand& o) {
  MetricOptions mo;
  mo.ssim_downsample = o.downsample;
  mo.brisque_model = o.brisque_model;
  mo.brisque_range = o.brisque_range;
  mo.niqe_model = o.niqe_model;
  return mo;
}

// What one thread keeps: its own metric objects (a metric caches its reference's statistics, so objects are not
// shared between threads) and the reference it set last (rows of one reference follow each other).
struct Worker {
  std::vector<std::unique_ptr<Metric>> metrics;
  std::string reference;           // path of the reference set on the FR metrics ("" = none yet)
  std::optional<Error> reference_error;  // why that reference could not be loaded
};

std::vector<Worker> make_workers(int n, const std::vector<const MetricInfo*>& names, const MetricOptions& mo) {
  std::vector<Worker> workers(n);
  for (Worker& w : workers)
    for (const MetricInfo* m : names) w.metrics.push_back(create_metric(m->name, mo));  // files checked here, once per thread
  return workers;
}

// An exception from below hawkeye (OpenCV's, out of memory) as the image's error, as eval's loader words it.
Error foreign_error(const std::exception& e, const std::string& what) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return Error(ErrorCode::limit_exceeded, what + ": out of memory");
  return Error(ErrorCode::corrupt_data, what + ": " + e.what());
}

// One image's scores: score or error per metric (same order as the names).
struct ImageResult {
  std::vector<double> score;
  std::vector<std::optional<Error>> error;
};

// Scores one image with every metric; FR metrics against `reference` ("" for NR-only lists), loaded once per
// change of reference on this worker. Never throws an hawkeye Error: it becomes the metric's error.
ImageResult score_image(Worker& w, const std::vector<const MetricInfo*>& names, const fs::path& image,
                        const std::string& reference, const ImageLimits& limits,
                        const std::function<std::optional<Error>()>& reference_check = {}) {
  ImageResult r;
  r.score.assign(names.size(), kNaN);
  r.error.assign(names.size(), std::nullopt);
  std::optional<Image> img;
  std::optional<Error> image_error;
  try {
    img = load_image(image, limits);
  } catch (const Error& e) {
    image_error = e;
  } catch (const std::exception& e) {
    image_error = foreign_error(e, image.string());
  }
  bool any_fr = false;
  for (const MetricInfo* m : names) any_fr = any_fr || is_fr(*m);
  if (any_fr && !image_error && reference != w.reference) {
    w.reference = reference;
    w.reference_error.reset();
    try {
      if (reference_check) w.reference_error = reference_check();
      if (!w.reference_error) {
        const Image ref = load_image(reference, limits);
        for (std::size_t k = 0; k < names.size(); ++k)
          if (is_fr(*names[k])) w.metrics[k]->set_reference(ref);
      }
    } catch (const Error& e) {
      w.reference_error = e;
    } catch (const std::exception& e) {
      w.reference_error = foreign_error(e, reference);
    }
  }
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (image_error) {
      r.error[k] = image_error;
      continue;
    }
    if (is_fr(*names[k]) && w.reference_error) {
      r.error[k] = w.reference_error;
      continue;
    }
    try {
      r.score[k] = w.metrics[k]->compute(*img);
    } catch (const Error& e) {
      r.error[k] = e;
    } catch (const std::exception& e) {
      r.error[k] = foreign_error(e, image.string());
    }
  }
  return r;
}

// Writes finished items in input order as soon as every earlier one is finished (threads finish out of order).
class OrderedOutput {
 public:
  OrderedOutput(std::size_t n, std::function<void(std::size_t)> write) : done_(n, false), write_(std::move(write)) {}
  void finished(std::size_t i) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_[i] = true;
    while (next_ < done_.size() && done_[next_]) write_(next_++);
  }

 private:
  std::mutex mutex_;
  std::vector<bool> done_;
  std::size_t next_ = 0;
  std::function<void(std::size_t)> write_;
};

void run_metric_on_images(const MetricCommand& o, const std::vector<const MetricInfo*>& names, Context& ctx) {
  const std::vector<std::string> arguments = arguments_and_list(o.inputs, o.files_from);
  const bool any_fr = std::any_of(names.begin(), names.end(), [](const MetricInfo* m) { return is_fr(*m); });
  if (any_fr && o.ref.empty()) {
    const MetricInfo* fr = *std::find_if(names.begin(), names.end(), [](const MetricInfo* m) { return is_fr(*m); });
    throw Error(ErrorCode::invalid_argument, fr->name + " is a full-reference metric: give --ref REFERENCE (a file or a folder of same-named files)");
  }
  if (!any_fr && !o.ref.empty()) {
    throw Error(ErrorCode::invalid_argument,
                (names.size() == 1 ? names[0]->name + " is a no-reference metric" : std::string("these are no-reference metrics")) +
                    ": drop --ref");
  }
  const std::vector<fs::path> images = expand_image_inputs(arguments);
  std::error_code ec;
  const fs::path ref_path(o.ref);
  const bool ref_dir = any_fr && fs::is_directory(ref_path, ec);
  if (any_fr && !ref_dir) load_image(ref_path, o.limits);  // a missing or broken single reference is the command's error

  const int threads = parallel_workers(images.size(), ctx.global.threads);
  const SerialOpenCvScope serial_opencv;  // our workers are the parallelism
  std::vector<Worker> workers = make_workers(threads, names, metric_options(o));

  std::optional<JsonlWriter> jsonl;
  std::optional<CsvWriter> csv;
  if (o.format == "csv") csv.emplace(std::cout, std::vector<std::string>{"image", "reference", "metric", "score", "error", "note"});
  else jsonl.emplace(std::cout);

  std::vector<ImageResult> results(images.size());
  std::vector<std::string> references(images.size());
  std::size_t failed_images = 0;
  std::optional<Error> only_error;
  bool every_metric_failed = false;  // of the last image written (what decides a single image's status)
  std::vector<double> sum(names.size(), 0.0);
  std::vector<std::size_t> count(names.size(), 0);
  OrderedOutput output(images.size(), [&](std::size_t i) {
    bool failed = false;
    for (std::size_t k = 0; k < names.size(); ++k) {
      const MetricInfo& info = *names[k];
      ordered_json rec;
      rec["image"] = images[i].string();
      if (is_fr(info)) rec["reference"] = references[i];
      rec["metric"] = info.name;
      if (results[i].error[k]) {
        failed = true;
        rec["score"] = nullptr;
        rec["error"] = results[i].error[k]->what();
        rec["error_code"] = std::string(error_code_name(results[i].error[k]->code()));
        only_error = results[i].error[k];
      } else {
        const double score = results[i].score[k];
        rec["score"] = score;
        if (std::isinf(score)) rec["note"] = "identical images: the score is +infinity (written as null)";
        if (std::isfinite(score)) sum[k] += score, ++count[k];
      }
      rec["lowest"] = info.lowest;
      rec["highest"] = info.highest;
      rec["higher_is_better"] = info.higher_is_better;
      if (!info.unit.empty()) rec["unit"] = info.unit;
      if (csv) csv->write(sanitize_json(rec));
      else jsonl->write(sanitize_json(rec));
    }
    if (failed) ++failed_images;
    every_metric_failed = std::all_of(results[i].error.begin(), results[i].error.end(), [](const auto& e) { return e.has_value(); });
    results[i] = ImageResult();  // written: free it
  });

  std::string label = "metric ";
  for (std::size_t k = 0; k < names.size(); ++k) label += (k ? "," : "") + names[k]->name;
  Progress progress(label, images.size(), !ctx.global.quiet);
  parallel_for(images.size(), threads, [&](std::size_t i, int worker) {
    const fs::path& image = images[i];
    const fs::path ref = ref_dir ? ref_path / image.filename() : ref_path;
    references[i] = any_fr ? ref.string() : std::string();
    results[i] = score_image(workers[worker], names, image, references[i], o.limits, [&]() -> std::optional<Error> {
      std::error_code e;
      if (ref_dir && !fs::exists(ref, e)) return Error(ErrorCode::not_found, ref_path.string() + ": no reference named " + image.filename().string());
      return std::nullopt;
    });
    output.finished(i);
    progress.advance();
  });
  progress.finish();
  std::cout.flush();
  // The mean of each metric over the images it scored (finite scores), after the records.
  if (!ctx.global.quiet && !images.empty()) {
    std::cerr << "mean over " << count_of(images.size(), "image") << ":";
    for (std::size_t k = 0; k < names.size(); ++k) {
      std::cerr << (k ? ", " : " ") << names[k]->name << " ";
      if (count[k] > 0) std::cerr << std::setprecision(6) << sum[k] / count[k] << (names[k]->unit.empty() ? "" : " " + names[k]->unit);
      else std::cerr << "n/a";
      if (count[k] != images.size()) std::cerr << " (of " << count[k] << ")";
    }
    std::cerr << "\n";
  }
  // One image that no metric could score: its error decides the exit status (records written above).
  if (failed_images > 0 && images.size() == 1 && every_metric_failed) throw *only_error;
  RunEnding ending;
  ending.inputs = images.size();
  ending.failed = failed_images;
  ending.details = "their \"error\"";
  end_run(ctx, ending);
}

std::string fixed(double v, int decimals = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void run_metric_on_manifest(const MetricCommand& o, std::vector<const MetricInfo*> names, Context& ctx) {
  if (!o.inputs.empty() || !o.files_from.empty() || !o.ref.empty()) {
    throw Error(ErrorCode::invalid_argument, "--data takes the images and references from the manifest: drop the image arguments, --files-from and --ref");
  }
  if (o.format != "jsonl") throw Error(ErrorCode::invalid_argument, "--format applies to the per-image records without --data; --data writes scores.jsonl and report.json");
  const Manifest manifest = read_manifest_option(o.data, o.scale, o.root);
  const bool fr_manifest = manifest.form == ManifestForm::full_reference;
  for (const MetricInfo* m : names) {
    if (is_fr(*m) && !fr_manifest) {
      throw Error(ErrorCode::invalid_argument, m->name + " is a full-reference metric and " + o.data +
                                                   " has no reference column (a no-reference manifest): choose no-reference metrics (brisque_opencv, niqe)");
    }
  }

  const fs::path out = o.out.empty() ? fs::path("metric-" + fs::path(o.data).stem().string()) : fs::path(o.out);
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw Error(ErrorCode::invalid_argument, out.string() + ": exists and is not a folder (--out names a folder)");
  fs::create_directories(out, ec);
  if (ec) throw Error(ErrorCode::io, out.string() + ": cannot create the folder (" + ec.message() + ")");
  const PathLock lock = lock_directory(out, "metric");
  const fs::path scores_path = out / "scores.jsonl", report_path = out / "report.json";
  if (!o.force && (fs::exists(scores_path, ec) || fs::exists(report_path, ec))) {
    throw Error(ErrorCode::invalid_argument, out.string() + ": already holds the results of a run (scores.jsonl, report.json); choose another --out, or add --force to replace them");
  }

  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t n = manifest.rows.size();
  const int threads = parallel_workers(n, ctx.global.threads);
  const SerialOpenCvScope serial_opencv;  // our workers are the parallelism
  std::vector<Worker> workers = make_workers(threads, names, metric_options(o));
  std::vector<ImageResult> results(n);
  std::string label = "metric ";
  for (std::size_t k = 0; k < names.size(); ++k) label += (k ? "," : "") + names[k]->name;
  Progress progress(label, n, !ctx.global.quiet);
  {
    const StopOnSignal on_signal;
    parallel_for(n, threads, [&](std::size_t i, int worker) {
      if (stop_flag().load()) throw Error(ErrorCode::interrupted, "interrupted: nothing written to " + out.string());
      const ManifestRow& row = manifest.rows[i];
      results[i] = score_image(workers[worker], names, manifest.image_path(row),
                               fr_manifest ? manifest.reference_path(row).string() : std::string(), o.limits);
      progress.advance();
    });
  }
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string type_column = distortion_type_column(manifest);
  // scores.jsonl: one line per manifest row, a field per metric (null with the reason under "errors" when it
  // failed), so `hawkeye correlate --pred DIR/scores.jsonl --pred-col ssim --gt MANIFEST` works on it.
  std::size_t failed_rows = 0;
  write_file_atomic(scores_path, [&](std::ostream& s) {
    JsonlWriter w(s);
    for (std::size_t i = 0; i < n; ++i) {
      const ManifestRow& row = manifest.rows[i];
      ordered_json rec;
      rec["image"] = row.image;
      if (fr_manifest) rec["reference"] = row.reference;
      rec["label"] = manifest.label(row);
      if (!type_column.empty()) rec["type"] = extra_text(row, type_column);
      ordered_json errors = ordered_json::object();
      for (std::size_t k = 0; k < names.size(); ++k) {
        if (results[i].error[k]) {
          rec[names[k]->name] = nullptr;
          errors[names[k]->name] = results[i].error[k]->what();
        } else {
          rec[names[k]->name] = results[i].score[k];
        }
      }
      if (!errors.empty()) rec["errors"] = errors, ++failed_rows;
      w.write(sanitize_json(rec));
    }
  });

  // The statistics: the eval protocol (labels on [1, 5], 5 = best), with lower-is-better metrics negated first so
  // that a metric that agrees with the raters has a positive SRCC/PLCC, as IQA papers report them.
  ordered_json report;
  report["hawkeye_metric_report"] = 1;
  report["data"] = o.data;
  report["data_rows"] = n;
  report["data_form"] = fr_manifest ? "full-reference" : "no-reference";
  report["score_name"] = manifest.score_name;
  report["scale"] = manifest.scale.describe();
  report["type_column"] = type_column.empty() ? ordered_json(nullptr) : ordered_json(type_column);
  report["protocol"] =
      "Every row of the manifest is scored by each metric (full-reference metrics against the row's reference). Labels "
      "are the manifest's '" + manifest.score_name + "' scores (" + manifest.scale.describe() +
      ") mapped linearly onto [1, 5], 5 = best, as in hawkeye eval. The scores of lower-is-better metrics are negated "
      "before the statistics, so that agreement with the raters is positive. Rows a metric could not score (and "
      "infinite scores: PSNR of identical images) are left out of that metric's statistics and counted. SRCC, KRCC, "
      "PLCC and RMSE on the (signed) raw scores; PLCC and RMSE 'fitted' after the 4-parameter logistic fitted by "
      "Levenberg-Marquardt (VQEG)." +
      (type_column.empty() ? std::string() : " Per distortion type (manifest column '" + type_column + "'): SRCC and PLCC of that type's rows.");
  report["metrics"] = ordered_json::array();
  std::vector<CorrelationReport> summaries;
  std::vector<double> means;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const MetricInfo& info = *names[k];
    const double sign = info.higher_is_better ? 1.0 : -1.0;
    std::vector<double> pred, label;
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_type;
    std::size_t failures = 0, infinite = 0;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (results[i].error[k]) {
        ++failures;
        continue;
      }
      const double v = results[i].score[k];
      if (!std::isfinite(v)) {
        ++infinite;
        continue;
      }
      sum += v;
      pred.push_back(sign * v);
      label.push_back(manifest.label(manifest.rows[i]));
      if (!type_column.empty()) {
        auto& t = by_type[extra_text(manifest.rows[i], type_column)];
        t.first.push_back(sign * v);
        t.second.push_back(label.back());
      }
    }
    const CorrelationReport c = correlate(pred, label);
    ordered_json m;
    m["metric"] = info.name;
    m["kind"] = is_fr(info) ? "FR" : "NR";
    m["higher_is_better"] = info.higher_is_better;
    m["sign"] = sign;
    m["failures"] = failures;
    m["infinite"] = infinite;
    m["mean"] = pred.empty() ? kNaN : sum / pred.size();
    const ordered_json statistics = to_json(c);  // kept alive for the loop (a temporary's items() would dangle)
    for (const auto& [key, value] : statistics.items()) m[key] = value;
    if (!type_column.empty()) {
      ordered_json per_type = ordered_json::array();
      for (const auto& [type, pl] : by_type) {
        ordered_json t;
        t["type"] = type;
        t["n"] = pl.first.size();
        const Statistic s = srcc(pl.first, pl.second), p = plcc(pl.first, pl.second);
        t["srcc"] = s.value;
        t["plcc"] = p.value;
        if (!s.defined()) t["reason"] = s.reason;
        per_type.push_back(t);
      }
      m["per_type"] = per_type;
    }
    report["metrics"].push_back(sanitize_json(m));
    summaries.push_back(c);
    means.push_back(pred.empty() ? kNaN : sum / pred.size());
  }
  report["threads"] = threads;
  report["seconds"] = seconds;
  report["images_per_second"] = seconds > 0 ? n / seconds : kNaN;
  report = sanitize_json(report);
  write_file_atomic(report_path, report.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n");

  if (o.json) {
    std::cout << report.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "hawkeye metric: " << names.size() << (names.size() == 1 ? " metric" : " metrics") << " on " << o.data << " ("
              << count_of(n, "image") << ", " << fixed(seconds, 1) << " s)\n";
    std::cout << "  " << std::left << std::setw(10) << "metric" << std::right << std::setw(7) << "n" << std::setw(9) << "SRCC"
              << std::setw(9) << "KRCC" << std::setw(12) << "PLCC(fit)" << std::setw(12) << "mean" << "\n";
    for (std::size_t k = 0; k < names.size(); ++k) {
      const CorrelationReport& c = summaries[k];
      std::cout << "  " << std::left << std::setw(10) << names[k]->name << std::right << std::setw(7) << c.n << std::setw(9)
                << fixed(c.srcc.value) << std::setw(9) << fixed(c.krcc.value) << std::setw(12)
                << (c.logistic.fitted ? fixed(c.plcc_fitted.value) : std::string("fit failed")) << std::setw(12)
                << fixed(means[k], 4) << "\n";
    }
    std::cout << "  lower-is-better metrics are negated before correlating; written: " << report_path.string() << ", "
              << scores_path.string() << "\n";
  }
  std::cout.flush();
  RunEnding ending;
  ending.inputs = n;
  ending.failed = failed_rows;
  ending.breakdown = "not scored by every metric";
  ending.details = "\"errors\" in " + scores_path.string();
  end_run(ctx, ending);
}

void run_metric(const MetricCommand& o, Context& ctx) {
  if (o.name.empty()) throw Error(ErrorCode::invalid_argument, "give a metric name (hawkeye metric --list shows them)");
  if (o.data.empty()) {
    for (const auto& [given, option] : {std::pair{!o.out.empty(), "--out"}, {o.json, "--json"}, {!o.scale.empty(), "--scale"},
                                        {!o.root.empty(), "--root"}, {o.force, "--force"}}) {
      if (given) throw Error(ErrorCode::invalid_argument, std::string(option) + " goes with --data MANIFEST (the per-image records go to standard output)");
    }
    run_metric_on_images(o, parse_metric_names(o.name, !o.ref.empty()), ctx);
    return;
  }
  // With --data, "all" takes the full-reference metrics when the manifest has references (checked there).
  std::vector<const MetricInfo*> names;
  if (ascii_lower(std::string(trim_space(o.name))) == "all") {
    ManifestReadOptions probe;
    if (!o.scale.empty()) probe.scale = parse_scale_option(o.scale);
    names = parse_metric_names(o.name, read_manifest(o.data, probe).form == ManifestForm::full_reference);
  } else {
    names = parse_metric_names(o.name, true);
  }
  run_metric_on_manifest(o, names, ctx);
}

}  // namespace

void add_metric_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<MetricCommand>();
  auto* sub = app.add_subcommand("metric", "Compute classical IQA metrics: PSNR, SSIM, MS-SSIM, GMSD (with --ref), BRISQUE, NIQE; on images or a whole manifest");
  sub->fallthrough();
  sub->add_flag("--list", opts->list, "List the metrics with kind, range and direction");
  sub->add_option("name", opts->name, "Metric name (see --list), a comma-separated list (ssim,psnr,brisque_opencv) or all");
  sub->add_option("inputs", opts->inputs, "Images, folders (recursive) or patterns such as 'photos/*.jpg'");
  sub->add_option("--files-from", opts->files_from,
                  "Also the images listed in FILE, one path (or folder, or pattern) per line; - reads standard input");
  sub->add_option("--ref", opts->ref,
                  "Reference image, or a folder holding a reference with the same file name as each image");
  sub->add_option("--data,-d", opts->data,
                  "Manifest (.jsonl or pyiqa .csv): score its images (FR metrics against its references) and report SRCC/PLCC/KRCC "
                  "against its opinion scores, as hawkeye eval does for models");
  sub->add_option("--out,-o", opts->out, "With --data: output folder for scores.jsonl and report.json (default: metric-<manifest name>)");
  sub->add_option("--scale", opts->scale, "With --data: the scores' range and direction, LO:HI:higher|lower (overrides the manifest's)");
  sub->add_option("--root", opts->root, "With --data: folder the manifest's image paths are relative to (default: the manifest's folder)");
  sub->add_flag("--json", opts->json, "With --data: print the whole report as one JSON line instead of the summary");
  sub->add_flag("--force", opts->force, "With --data: replace the results of an earlier run in --out");
  sub->add_option("--format", opts->format, "Output: jsonl (default) or csv")->check(CLI::IsMember({"jsonl", "csv"}));
  sub->add_flag("--downsample", opts->downsample, "ssim: the MATLAB script's automatic downsampling (off by default)");
  sub->add_option("--brisque-model", opts->brisque_model, "BRISQUE SVR model (default: Debian opencv-data's)");
  sub->add_option("--brisque-range", opts->brisque_range, "BRISQUE feature range file (default: opencv-data's)");
  sub->add_option("--niqe-model", opts->niqe_model, "NIQE pristine model .mat (default: see docs/metrics.md)");
  sub->add_option_function<std::uint64_t>(
      "--max-pixels", [opts](std::uint64_t v) { opts->limits.max_pixels = v > 0 ? v : ImageLimits().max_pixels; },
      "Refuse images with more pixels than this (default 100 megapixels; 0 = the default)");
  sub->callback([opts, &ctx, sub] {
    ctx.prepare(false);
    if (opts->list) {
      print_list(*opts, sub->count("--format") > 0);
      ctx.exit_code = kExitOk;
      return;
    }
    run_metric(*opts, ctx);
  });
}

}  // namespace hawkeye::cli
