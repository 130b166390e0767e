// hawkeye pairs --data MANIFEST --out DIR: Q-Hawkeye's perception pairs (a degraded twin per image).
#include <iostream>
#include <sstream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/data/pairs.h"
#include "hawkeye/metrics/full_reference.h"

namespace hawkeye::cli {

void add_pairs_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string data, out, metric = "ssim", kinds = "noise,blur,jpeg,darken", output_name;
    double threshold = -1;
    bool force = false, json = false;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("pairs", "Build Q-Hawkeye perception pairs: a degraded twin for every image of a manifest");
  sub->fallthrough();  // global options (--seed, --threads, ...) may follow the subcommand
  sub->add_option("--data", opts->data, "Input manifest (.csv or .jsonl)")->required();
  sub->add_option("--out", opts->out, "Output folder (twins/ and the manifest with a twin column)")->required();
  sub->add_option("--metric", opts->metric, "Full-reference metric of the perceptibility test")
      ->check(CLI::IsMember({"ssim", "psnr"}));
  sub->add_option("--threshold", opts->threshold,
                  "A twin at least this similar to its original is imperceptible and gets a second degradation "
                  "(default: SSIM 0.90, PSNR 30 dB)");
  sub->add_option("--kinds", opts->kinds, "Stage-1 degradations to draw from");
  sub->add_option("--name", opts->output_name, "Output manifest file name (default: <input>.pairs.<ext>)");
  sub->add_flag("--force", opts->force, "Overwrite an existing output manifest and twins (never an input)");
  sub->add_flag("--json", opts->json, "Print the summary as JSON");
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
    PairsOptions o;
    o.manifest = opts->data;
    o.out_dir = opts->out;
    o.output_name = opts->output_name;
    o.seed = ctx.global.seed;
    o.threads = ctx.global.threads;
    o.progress = !ctx.global.quiet;
    o.force = opts->force;
    o.pair.metric = opts->metric;
    if (opts->metric == "ssim") {
      o.pair.similarity = [](const Image& a, const Image& b) { return ssim(a, b); };
      o.pair.threshold = opts->threshold >= 0 ? opts->threshold : 0.90;
    } else {
      o.pair.similarity = [](const Image& a, const Image& b) { return psnr(a, b); };
      o.pair.threshold = opts->threshold >= 0 ? opts->threshold : 30.0;
    }
    o.pair.kinds.clear();
    std::stringstream ss(opts->kinds);
    for (std::string k; std::getline(ss, k, ',');) o.pair.kinds.push_back(parse_perception_kind(k));
    const PairsResult r = build_pairs(o);
    ordered_json j;
    j["manifest"] = r.manifest.string();
    j["rows"] = r.rows;
    j["redegraded"] = r.redegraded;
    j["still_imperceptible"] = r.imperceptible;
    j["metric"] = o.pair.metric;
    j["threshold"] = o.pair.threshold;
    j["seconds"] = r.seconds;
    if (opts->json) {
      std::cout << sanitize_json(j).dump(2) << "\n";
    } else {
      std::cout << "pairs: " << r.rows << " twins in " << r.seconds << " s; " << r.redegraded
                << " judged imperceptible at stage 1 (" << o.pair.metric << " >= " << o.pair.threshold
                << ") got a second degradation, " << r.imperceptible << " still imperceptible\n"
                << "  manifest " << r.manifest.string() << "\n";
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
