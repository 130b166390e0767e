// hawkeye metric NAME [--ref REF_OR_DIR] IMG_OR_DIR... [--format jsonl|csv]; hawkeye metric --list
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/inputs.h"
#include "hawkeye/image/io.h"
#include "hawkeye/metrics/registry.h"

namespace hawkeye::cli {

namespace {

struct MetricCommand {
  std::string name;
  std::vector<std::string> inputs;
  std::string files_from;  // --files-from FILE|-: more inputs, one per line
  std::string ref;
  std::string format = "jsonl";
  bool list = false;
  bool downsample = false;
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
    std::cout << std::left << std::setw(10) << "name" << std::setw(5) << "kind" << std::setw(18) << "range"
              << std::setw(8) << "better" << "description\n";
    for (const MetricInfo& m : list_metrics()) {
      std::cout << std::left << std::setw(10) << m.name << std::setw(5)
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

void run_metric(const MetricCommand& o, Context& ctx) {
  if (o.name.empty()) throw Error(ErrorCode::invalid_argument, "give a metric name (hawkeye metric --list shows them)");
  const MetricInfo& info = metric_info(o.name);
  const std::vector<std::string> arguments = arguments_and_list(o.inputs, o.files_from);
  const bool fr = info.kind == MetricKind::full_reference;
  if (fr && o.ref.empty()) {
    throw Error(ErrorCode::invalid_argument, info.name + " is a full-reference metric: give --ref REFERENCE (a file or a folder of same-named files)");
  }
  if (!fr && !o.ref.empty()) {
    throw Error(ErrorCode::invalid_argument, info.name + " is a no-reference metric: drop --ref");
  }
  MetricOptions mo;
  mo.ssim_downsample = o.downsample;
  mo.brisque_model = o.brisque_model;
  mo.brisque_range = o.brisque_range;
  mo.niqe_model = o.niqe_model;
  const std::unique_ptr<Metric> metric = create_metric(info.name, mo);
  const std::vector<fs::path> images = expand_image_inputs(arguments);

  std::error_code ec;
  const fs::path ref_path(o.ref);
  const bool ref_dir = fr && fs::is_directory(ref_path, ec);
  if (fr && !ref_dir) metric->set_reference(load_image(ref_path, o.limits));  // one reference for all: cached

  std::optional<JsonlWriter> jsonl;
  std::optional<CsvWriter> csv;
  if (o.format == "csv") csv.emplace(std::cout, std::vector<std::string>{"image", "reference", "metric", "score", "error", "note"});
  else jsonl.emplace(std::cout);

  Progress progress("metric " + info.name, images.size(), !ctx.global.quiet);
  std::size_t failed = 0;
  std::optional<Error> only_error;
  for (const fs::path& image : images) {
    ordered_json rec;
    rec["image"] = image.string();
    const fs::path ref = ref_dir ? ref_path / image.filename() : ref_path;
    if (fr) rec["reference"] = ref.string();
    rec["metric"] = info.name;
    try {
      if (ref_dir) {
        if (!fs::exists(ref, ec)) {
          throw Error(ErrorCode::not_found, ref_path.string() + ": no reference named " + image.filename().string());
        }
        metric->set_reference(load_image(ref, o.limits));
      }
      const double score = metric->compute(load_image(image, o.limits));
      rec["score"] = score;
      if (std::isinf(score)) rec["note"] = "identical images: the score is +infinity (written as null)";
    } catch (const Error& e) {
      ++failed;
      rec["score"] = nullptr;
      rec["error"] = e.what();
      rec["error_code"] = std::string(error_code_name(e.code()));
      only_error = e;
    }
    rec["lowest"] = info.lowest;
    rec["highest"] = info.highest;
    rec["higher_is_better"] = info.higher_is_better;
    if (!info.unit.empty()) rec["unit"] = info.unit;
    if (csv) csv->write(sanitize_json(rec));
    else jsonl->write(sanitize_json(rec));
    progress.advance();
  }
  progress.finish();
  if (failed == 0) {
    ctx.exit_code = kExitOk;
  } else if (images.size() == 1) {
    throw *only_error;  // one image: its error decides the exit status (the record was written above)
  } else {
    std::cerr << "hawkeye: " << failed << " of " << count_of(images.size(), "image") << " failed (see their \"error\")\n";
    ctx.exit_code = kExitSomeInputsFailed;
  }
}

}  // namespace

void add_metric_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<MetricCommand>();
  auto* sub = app.add_subcommand("metric", "Compute a classical IQA metric: PSNR, SSIM, MS-SSIM, GMSD (with --ref), BRISQUE, NIQE");
  sub->fallthrough();
  sub->add_flag("--list", opts->list, "List the metrics with kind, range and direction");
  sub->add_option("name", opts->name, "Metric name (see --list)");
  sub->add_option("inputs", opts->inputs, "Images, folders (recursive) or patterns such as 'photos/*.jpg'");
  sub->add_option("--files-from", opts->files_from,
                  "Also the images listed in FILE, one path (or folder, or pattern) per line; - reads standard input");
  sub->add_option("--ref", opts->ref,
                  "Reference image, or a folder holding a reference with the same file name as each image");
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
