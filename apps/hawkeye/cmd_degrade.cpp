// hawkeye degrade IMG --type NAME --level L --out OUT: one KADID distortion or one Q-Hawkeye degradation.
#include <filesystem>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/distortions/perception.h"
#include "hawkeye/image/io.h"

namespace hawkeye::cli {

void add_degrade_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string image, type, out, id;
    int level = 0;
    bool force = false;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("degrade", "Apply one KADID distortion (or Q-Hawkeye degradation) to an image");
  sub->fallthrough();  // global options (--seed, --threads, ...) may follow the subcommand
  sub->add_option("image", opts->image, "Input image")->required();
  sub->add_option("--type", opts->type,
                  "KADID type id or name (1..25, e.g. jpeg, gaussian_blur), or qh-noise, qh-blur, qh-jpeg, qh-darken")
      ->required();
  sub->add_option("--level", opts->level, "KADID level 1..5; for qh-* the stage, 1 or 2")->required();
  sub->add_option("--out", opts->out, "Output image (.png, .jpg, .bmp)")->required();
  sub->add_flag("--force", opts->force, "Replace an existing output image (or the input itself)");
  sub->add_option("--id", opts->id,
                  "Image id the seed is derived from (default: the file's stem, as hawkeye synth names references)");
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
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
      out = apply_kadid(img, d.id, opts->level, kadid_seed(ctx.global.seed, id, d.id, opts->level));
    }
    save_image(opts->out, out);
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
