// hawkeye degrade IMG --type NAME --level L --out OUT: one KADID distortion or one Q-Hawkeye degradation.
// hawkeye degrade --list [--json]: the types with their family, parameter and per-level values.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/distortions/perception.h"
#include "hawkeye/image/io.h"

namespace hawkeye::cli {

namespace {

std::string level_values(const KadidDistortion& d) {
  std::string out;
  for (double v : d.levels) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    out += (out.empty() ? "" : ", ") + std::string(buf);
  }
  return out;
}

void print_distortion_list(bool json) {
  const PerceptionParams s1 = perception_stage1(), s2 = perception_stage2();
  auto g = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  const std::vector<std::pair<std::string, std::string>> qh_types = {
      {"qh-noise", "Gaussian noise std (of 255): " + g(s1.noise_sigma) + ", " + g(s2.noise_sigma)},
      {"qh-blur", "Gaussian blur radius (px): " + g(s1.blur_radius) + ", " + g(s2.blur_radius)},
      {"qh-jpeg", "JPEG quality x passes: " + g(s1.jpeg_quality) + " x " + g(s1.jpeg_passes) + ", " + g(s2.jpeg_quality) + " x " +
                      g(s2.jpeg_passes)},
      {"qh-darken", "brightness factor: " + g(s1.darken_factor) + ", " + g(s2.darken_factor)},
  };
  if (json) {
    for (const auto& d : kadid_distortions()) {
      ordered_json j;
      j["id"] = d.id;
      j["name"] = std::string(d.name);
      j["family"] = std::string(d.family);
      j["parameter"] = std::string(d.parameter);
      j["levels"] = d.levels;
      j["random"] = d.random;
      j["monotone"] = d.monotone;
      j["substitute"] = d.substitute;
      j["labelled"] = d.labelled;
      std::cout << j.dump() << "\n";
    }
    for (const auto& [name, what] : qh_types) {
      ordered_json j;
      j["name"] = name;
      j["family"] = "qhawkeye";
      j["parameter"] = what;
      j["levels"] = {"stage 1", "stage 2"};
      std::cout << j.dump() << "\n";
    }
    return;
  }
  std::printf("%-3s %-22s %-19s %s\n", "id", "name", "family", "parameter: levels 1..5");
  for (const auto& d : kadid_distortions()) {
    std::string note = d.substitute ? " (substitute, not KADID's operation)" : !d.monotone ? " (not monotone)" : "";
    std::printf("%-3d %-22s %-19s %s: %s%s\n", d.id, std::string(d.name).c_str(), std::string(d.family).c_str(),
                std::string(d.parameter).c_str(), level_values(d).c_str(), note.c_str());
  }
  std::printf("\nQ-Hawkeye degradations (the perception loss's twins; --level is the stage: values of stages 1, 2):\n");
  for (const auto& [name, what] : qh_types) std::printf("    %-22s %s\n", name.c_str(), what.c_str());
}

}  // namespace

void add_degrade_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string image, type, out, id, jpeg2000 = "opencv53";
    int level = 0;
    int quality = 95;  // JPEG quality of a .jpg/.jpeg --out
    bool force = false, list = false, json = false;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("degrade", "Apply one KADID distortion (or Q-Hawkeye degradation) to an image");
  sub->fallthrough();  // global options (--seed, --threads, ...) may follow the subcommand
  sub->add_flag("--list", opts->list, "List the distortion types (id, name, family, parameter per level) and exit");
  sub->add_flag("--json", opts->json, "With --list: one JSON object per type");
  sub->add_option("image", opts->image, "Input image");
  sub->add_option("--type", opts->type,
                  "KADID type id or name (1..25, e.g. jpeg, gaussian_blur), or qh-noise, qh-blur, qh-jpeg, qh-darken");
  sub->add_option("--level", opts->level, "KADID level 1..5; for qh-* the stage, 1 or 2");
  sub->add_option("--out", opts->out, "Output image (.png, .jpg, .bmp)");
  sub->add_option("--jpeg2000", opts->jpeg2000, "Type 9's coder: opencv53 (5/3, default), wavelet97 (9/7), both (as synth)");
  auto* quality = sub->add_option("--quality", opts->quality,
                                  "JPEG quality of a .jpg/.jpeg --out (default 95; its compression adds to the distortion: "
                                  "use .png for the distortion alone)")
                      ->check(CLI::Range(1, 100));
  sub->add_flag("--force", opts->force, "Replace an existing output image (or the input itself)");
  sub->add_option("--id", opts->id,
                  "Image id the seed is derived from (default: the file's stem, as hawkeye synth names references)");
  sub->callback([opts, &ctx, quality] {
    ctx.prepare(false);
    if (opts->list) {
      print_distortion_list(opts->json);
      ctx.exit_code = kExitOk;
      return;
    }
    for (const auto& [value, name] : {std::pair{opts->image.empty(), "IMAGE"}, std::pair{opts->type.empty(), "--type"},
                                      std::pair{opts->level == 0, "--level"}, std::pair{opts->out.empty(), "--out"}}) {
      if (value) throw Error(ErrorCode::invalid_argument, std::string(name) + " is required (or --list to see the types)");
    }
    const Jpeg2000Coder jpeg2000 = parse_jpeg2000_coder(opts->jpeg2000);  // checked for every type, before any work
    check_output_file(opts->out, {opts->image}, opts->force);
    const Image img = load_image(opts->image);
    const std::string id = opts->id.empty() ? std::filesystem::path(opts->image).stem().string() : opts->id;
    Image out;
    if (opts->type.rfind("qh-", 0) == 0) {
      const PerceptionKind kind = parse_perception_kind(opts->type.substr(3));
      if (opts->level != 1 && opts->level != 2) {
        throw Error(ErrorCode::invalid_argument, "--level for " + opts->type + " is the stage: 1 or 2");
      }
      out = apply_perception(img, kind, opts->level == 1 ? perception_stage1() : perception_stage2(),
                             derive_seed(ctx.global.seed, "degrade|" + id + "|" + opts->type));
    } else {
      const KadidDistortion& d = kadid_distortion(opts->type);
      KadidOptions kadid;
      kadid.jpeg2000 = jpeg2000;
      out = apply_kadid(img, d.id, opts->level, kadid_seed(ctx.global.seed, id, d.id, opts->level), kadid);
    }
    const std::string ext = ascii_lower(std::filesystem::path(opts->out).extension().string());
    const bool jpeg = ext == ".jpg" || ext == ".jpeg";
    if (quality->count() > 0 && !jpeg) throw Error(ErrorCode::invalid_argument, "--quality applies to a .jpg/.jpeg --out only");
    if (jpeg && quality->count() == 0) {
      spdlog::info("{}: JPEG quality {} (--quality Q to choose; .png keeps the distortion alone)", opts->out, opts->quality);
    }
    save_image(opts->out, out, opts->quality);
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
