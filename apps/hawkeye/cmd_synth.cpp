// hawkeye synth --refs DIR... --out DIR: builds a KADID-style distorted set with human-calibrated labels.
#include <charconv>
#include <iostream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/data/synth.h"
#include "hawkeye/image/distortions/kadid.h"

namespace hawkeye::cli {

namespace {

// "512x384" -> (512, 384).
std::pair<int, int> parse_size(const std::string& s) {
  const auto x = s.find('x');
  int w = 0, h = 0;
  const bool ok = x != std::string::npos &&
                  std::from_chars(s.data(), s.data() + x, w).ptr == s.data() + x &&
                  std::from_chars(s.data() + x + 1, s.data() + s.size(), h).ptr == s.data() + s.size();
  if (!ok || w <= 0 || h <= 0) throw Error(ErrorCode::invalid_argument, "--size '" + s + "': expected WIDTHxHEIGHT, e.g. 512x384");
  return {w, h};
}

}  // namespace

void add_synth_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::vector<std::string> refs;
    std::string out, size = "512x384", types = "all", levels = "1-5", split = "train=0.8,test=0.2";
    std::string format = "jsonl", labels, jpeg2000 = "opencv53";
    bool force = false, json = false;
    int train_sample = 0;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("synth", "Build a KADID-style distorted set labelled with KADID-10k's human scores");
  sub->fallthrough();  // global options (--seed, --threads, ...) may follow the subcommand
  sub->add_option("--refs", opts->refs, "Folders (or files) of pristine reference images")->required()->expected(1, -1);
  sub->add_option("--out", opts->out, "Output folder (must be empty unless --force)")->required();
  sub->add_option("--size", opts->size, "Crop/resize every reference to WIDTHxHEIGHT (KADID scale: 512x384)");
  sub->add_option("--types", opts->types,
                  "KADID types: all (24 labelled types), all+substitutes (adds 15), or ids/names, e.g. 1,3,jpeg");
  sub->add_option("--levels", opts->levels, "Levels: 1-5, 3, 1,3,5");
  sub->add_option("--split", opts->split, "Split fractions by reference, e.g. train=0.8,test=0.2");
  sub->add_option("--train-sample", opts->train_sample,
                  "Per reference of a train* split, only N type x level combinations (seeded, spread over the types); "
                  "other splits get all")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--jpeg2000", opts->jpeg2000,
                  "Type 9's coder: opencv53 (or 5/3: OpenCV's writer, the default), wavelet97 (or 9/7: libopenjp2's "
                  "irreversible wavelet at KADID's exact ratios, as MATLAB), both (one of the two per image and level)");
  sub->add_option("--format", opts->format, "Manifest format")->check(CLI::IsMember({"jsonl", "csv", "both"}));
  sub->add_option("--labels", opts->labels, "Label table (default: resources/kadid_type_level_dmos.csv)");
  sub->add_flag("--force", opts->force, "Write into a non-empty output folder");
  sub->add_flag("--json", opts->json, "Print the summary as JSON");
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
    SynthOptions o;
    for (const auto& r : opts->refs) o.references.emplace_back(r);
    o.out_dir = opts->out;
    std::tie(o.width, o.height) = parse_size(opts->size);
    o.types = parse_kadid_types(opts->types);
    o.levels = parse_kadid_levels(opts->levels);
    o.train_sample = opts->train_sample;
    o.jpeg2000 = parse_jpeg2000_coder(opts->jpeg2000);
    o.splits = parse_split_fractions(opts->split);
    o.seed = ctx.global.seed;
    o.threads = ctx.global.threads;
    o.progress = !ctx.global.quiet;
    o.force = opts->force;
    o.format = opts->format;
    o.label_table = opts->labels;
    for (int t : o.types) {
      if (kadid_distortion(t).substitute) {
        spdlog::warn("type {} ({}) is a substitute operation, not KADID's; its KADID label is only approximate", t,
                     kadid_distortion(t).name);
      }
    }
    const SynthResult r = synthesize(o);
    ordered_json j;
    j["out"] = o.out_dir.string();
    j["references"] = r.references;
    j["images"] = r.images;
    j["rows_per_split"] = r.rows_per_split;
    j["manifests"] = ordered_json::array();
    for (const auto& m : r.manifests) j["manifests"].push_back(m.string());
    j["split_file"] = r.split_file.string();
    j["seconds"] = r.seconds;
    if (opts->json) {
      std::cout << sanitize_json(j).dump(2) << "\n";
    } else {
      std::cout << "synth: " << count_of(r.images, "image") << " from " << count_of(r.references, "reference") << " in " << r.seconds
                << " s\n";
      for (const auto& [name, n] : r.rows_per_split) std::cout << "  " << name << ": " << count_of(n, "row") << "\n";
      for (const auto& m : r.manifests) std::cout << "  manifest " << m.string() << "\n";
      std::cout << "  splits " << r.split_file.string() << "\n";
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
