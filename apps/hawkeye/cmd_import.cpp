// hawkeye import tflite FILE --out DIR: a TFLite model's weights, dequantised to float32 and named like a
// PyTorch MobileNet, as DIR/model.safetensors plus DIR/tflite.json (strides, padding, activations, input).
#include <iostream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/model/tflite.h"

namespace hawkeye::cli {

void add_import_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string file, out;
    bool force = false;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("import", "Import weights from another framework's model file");
  sub->require_subcommand(1);
  auto* tfl = sub->add_subcommand("tflite", "Dequantise a TFLite model (.tflite) into model.safetensors + tflite.json");
  tfl->add_option("file", opts->file, "The .tflite file")->required();
  tfl->add_option("--out", opts->out, "Output directory (created if missing)")->required();
  tfl->add_flag("--force", opts->force, "Overwrite an existing DIR/model.safetensors");
  tfl->add_flag("--json", opts->json, "Print the summary as JSON");
  tfl->callback([opts, &ctx] {
    ctx.prepare(false);
    const model::TfliteImport imported = model::import_tflite(opts->file);
    model::write_import(imported, opts->out, opts->force);
    ordered_json j;
    j["source"] = imported.source;
    j["architecture"] = imported.architecture;
    j["tensors"] = imported.tensors.size();
    j["parameters"] = imported.parameters();
    j["classes"] = imported.classes;
    j["layers"] = imported.layers.size();
    j["skipped"] = imported.skipped.size();
    j["out"] = (std::filesystem::path(opts->out) / "model.safetensors").string();
    if (opts->json) {
      std::cout << sanitize_json(j).dump() << "\n";
    } else {
      std::cout << "architecture: " << imported.architecture << "\n"
                << "tensors: " << imported.tensors.size() << " (" << imported.layers.size() << " layers)\n"
                << "parameters: " << imported.parameters() << " (float32)\n"
                << "classes: " << imported.classes << (imported.classes == 0 ? " (no classifier)" : "") << "\n";
      if (!imported.skipped.empty()) std::cout << "skipped: " << imported.skipped.size() << " constant tensors (see tflite.json)\n";
      std::cout << "wrote: " << j["out"].get<std::string>() << " and tflite.json\n";
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
