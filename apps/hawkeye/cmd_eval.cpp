// hawkeye eval --model M --data MANIFEST [--samples K] [--out DIR] [--resume] [--batch N] [--max-images N]
// The standard IQA evaluation of a model on a manifest: predictions.jsonl, report.json, scatter.png.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/eval/evaluator.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

namespace hawkeye::cli {

namespace {

struct EvalCommand {
  std::string model = "hawkeye-tiny";
  std::string data;
  std::string scale;  // --scale LO:HI:higher|lower (overrides what the manifest declares)
  std::string root;   // --root DIR: image paths relative to DIR instead of the manifest's folder
  std::int64_t samples = 0;
  std::string out;
  bool resume = false;
  std::int64_t batch = 16;
  std::int64_t max_images = 0;
  std::int64_t max_new_tokens = 0;
  double temperature = 0;
  std::string readout = "answer";
  std::string device = "cpu";
  bool json = false;
  int plot_width = 960, plot_height = 640;
};

std::string fixed(const ordered_json& v, int decimals = 4) {
  if (!v.is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
  return buf;
}

void run_eval(const EvalCommand& o, Context& ctx) {
  ctx.prepare(true);
  const torch::Device device = model::parse_device(o.device);
  const model::Readout readout = model::readout_from_name(o.readout);
  if (readout != model::Readout::answer && o.samples > 0) {
    throw Error(ErrorCode::invalid_argument, "--readout " + o.readout + " reads a greedy answer; it cannot be combined with --samples");
  }
  const Manifest manifest = read_manifest_option(o.data, o.scale, o.root);

  std::optional<ThreadGovernor> governor;  // unless --threads N: the thread count follows the machine's load
  if (ctx.global.follow_load() && device.is_cpu()) governor.emplace(ctx.global.threads);
  const auto t_load = std::chrono::steady_clock::now();
  auto m = model::IqaModel::load(o.model, device);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  {
    model::ScoreOptions asked;  // a readout this model cannot give is refused before the output folder exists
    asked.samples = o.samples;
    asked.readout = readout;
    model::check_score_options(m, asked);
  }
  const fs::path out = o.out.empty() ? fs::path("eval-" + m.id() + "-" + fs::path(o.data).stem().string()) : fs::path(o.out);
  const fs::path predictions = out / "predictions.jsonl";
  const PathLock lock = eval::open_eval_folder(out, o.resume);

  eval::EvalOptions eo;
  eo.score = model::default_score_options(m, o.samples, ctx.global.seed);
  if (o.max_new_tokens > 0) eo.score.sampling.max_new_tokens = o.max_new_tokens;
  if (o.temperature > 0) eo.score.sampling.temperature = o.temperature;
  eo.score.readout = readout;
  eo.batch = o.batch;
  eo.loader_threads = std::clamp(resolve_thread_count(ctx.global.threads) / 2, 1, 4);
  eo.max_images = o.max_images;
  eo.predictions = predictions;
  eo.resume = o.resume;
  eo.stop = &stop_flag();
  eo.threads = governor ? &*governor : nullptr;
  std::size_t total = manifest.rows.size();
  if (o.max_images > 0) total = std::min<std::size_t>(total, o.max_images);
  Progress progress("eval " + m.id(), total, !ctx.global.quiet);
  std::size_t shown = 0;
  eo.on_progress = [&](std::size_t done, std::size_t) {
    if (done > shown) progress.advance(done - shown), shown = done;
  };

  eval::EvalReport report;
  {
    // The first Ctrl-C or SIGTERM: the evaluation stops after the current batch and writes its partial report
    // (the predictions so far are on disk; --resume continues). A second one ends the process at once.
    const StopOnSignal on_signal;
    report = eval::evaluate(m, manifest, eo);
  }
  progress.finish();
  report.model_load_seconds = load_seconds;
  eval::write_eval_outputs(out, report, o.plot_width, o.plot_height);

  const ordered_json j = report.to_json();
  if (o.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "hawkeye eval: " << m.id() << " on " << o.data << (report.complete ? "" : " (interrupted: partial)") << "\n"
              << "  n " << report.correlation.n << " of " << count_of(report.evaluated_rows, "image") << " (" << report.parse_failures
              << " parse failures, " << report.load_failures << " load failures)\n"
              << "  SRCC " << fixed(j["srcc"]) << "  KRCC " << fixed(j["krcc"]) << "  PLCC " << fixed(j["plcc"])
              << (report.correlation.logistic.fitted ? " (fitted " + fixed(j["plcc_fitted"]) + ")" : std::string(" (fit failed)"))
              << "  RMSE " << fixed(j["rmse"])
              << (report.correlation.logistic.fitted ? " (fitted " + fixed(j["rmse_fitted"]) + ")" : std::string(" (fit failed)")) << "\n";
    if (!report.correlation.logistic.fitted) std::cout << "  logistic fit failed: " << report.correlation.logistic.reason << "\n";
    if (!report.per_type.empty()) std::cout << "  " << report.per_type.size() << " distortion types: see report.json \"per_type\"\n";
    if (report.reasoning) {
      const auto& rf = *report.reasoning;
      const double percent = 100.0 * rf.rate();
      std::cout << "  reasoning names the right distortion family in "
                << (std::isfinite(percent) ? fixed(percent, 1) + " %" : std::string("n/a")) << " of rows (" << rf.visible.right
                << " of " << rf.visible.rows << "; " << rf.invisible.rows
                << " barely visible rows left out): see report.json \"reasoning\"\n";
    }
    std::cout << "  " << fixed(j["timing"]["images_per_second"], 2) << " images/s; written: " << (out / "report.json").string()
              << ", " << (out / "scatter.png").string() << ", " << predictions.string() << "\n";
  }
  for (auto it = j["reasons"].begin(); it != j["reasons"].end(); ++it) {
    spdlog::warn("{} is undefined: {}", it.key(), it.value().get<std::string>());
  }

  RunEnding ending;
  ending.interrupted = !report.complete;
  ending.resume_hint = "continue with --resume (the predictions so far are kept)";
  ending.inputs = report.evaluated_rows;
  ending.answered = report.correlation.n + report.parse_failures;
  ending.parsed = report.correlation.n;
  ending.failed = report.load_failures;  // a row without a parsable answer is a result of the evaluation, not a failure
  ending.breakdown = "not loaded";
  ending.details = "\"status\" and \"error\" in " + predictions.string();
  end_run(ctx, ending);
}

}  // namespace

void add_eval_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<EvalCommand>();
  auto* sub = app.add_subcommand("eval", "Evaluate a model on a manifest: SRCC/PLCC/KRCC/RMSE, per-type breakdown, scatter plot");
  sub->fallthrough();
  sub->add_option("--model,-m", o->model, "A shipped model's name or a model directory (default: hawkeye-tiny)");
  sub->add_option("--data,-d", o->data, "Manifest (.jsonl or pyiqa .csv) of images and opinion scores")->required();
  sub->add_option("--scale", o->scale,
                  "The scores' range and direction, LO:HI:higher|lower (e.g. 0:100:higher for KonIQ's MOS, 0:9:lower for "
                  "DMOS); overrides what the manifest declares");
  sub->add_option("--root", o->root, "Folder the manifest's image paths are relative to (default: the manifest's folder)");
  sub->add_option("--samples,-k", o->samples, "K > 0: K sampled answers per image (mean as prediction); 0: greedy (default)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--out,-o", o->out, "Output folder (default: eval-<model>-<manifest name>)");
  sub->add_flag("--resume", o->resume, "Continue an interrupted evaluation from its predictions.jsonl");
  sub->add_option("--batch", o->batch, "Images per model batch (default 16)")->check(CLI::Range(1, 4096));
  sub->add_option("--max-images", o->max_images, "Only the first N rows of the manifest")->check(CLI::Range(1, 1 << 30));
  sub->add_option("--max-new-tokens", o->max_new_tokens, "Longest answer in tokens (default: the model's hawkeye.json)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--temperature", o->temperature, "Sampling temperature with --samples (default: the model's)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--readout", o->readout,
                  "Greedy score: answer (the number the answer writes, default), expected (its expected value under "
                  "the model's digit probabilities, after the greedy reasoning) or head (the vision tower's auxiliary-head score, "
                  "models with one; the reasoning is still written)")
      ->check(CLI::IsMember({"answer", "expected", "head"}));
  sub->add_option("--device", o->device, "cpu (default), cuda or cuda:N (needs a CUDA build)");
  sub->add_option("--plot-size", [o](const std::vector<std::string>& v) {
        if (std::sscanf(v[0].c_str(), "%dx%d", &o->plot_width, &o->plot_height) != 2) return false;
        return true;
      }, "scatter.png size WxH (default 960x640)");
  sub->add_flag("--json", o->json, "Print the whole report as one JSON line instead of the summary");
  sub->callback([o, &ctx] { run_eval(*o, ctx); });
}

}  // namespace hawkeye::cli
