// hawkeye info PATH: describes an image file (format, size, channels, bit depth) or a model directory.
#include <iostream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/io.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/model_dir.h"

namespace hawkeye::cli {

namespace {

ordered_json describe_image(const fs::path& path, const ImageLimits& limits) {
  const std::string bytes = read_file(path, limits.max_file_bytes);
  if (bytes.empty()) throw Error(ErrorCode::corrupt_data, path.string() + ": empty file");
  ImageHeader h;
  try {
    h = probe_image(bytes);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("<image>: ", 0) == 0) msg = msg.substr(9);
    throw Error(e.code(), path.string() + ": " + msg);
  }
  // Decoding proves the pixels are readable (and checks the limits) before we describe the file.
  const Image img = decode_image(bytes, limits, path.string());
  ordered_json j;
  j["path"] = path.string();
  j["kind"] = "image";
  j["format"] = h.format;
  j["width"] = img.width;
  j["height"] = img.height;
  j["stored_channels"] = h.channels;
  j["bit_depth"] = h.bit_depth;
  j["palette"] = h.palette;
  if (h.format == "jpeg") j["exif_orientation"] = h.exif_orientation;
  j["file_bytes"] = bytes.size();
  j["decoded"] = "8-bit RGB";
  return j;
}

void print_text(const ordered_json& j) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::cout << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump()) << "\n";
  }
}

}  // namespace

void add_info_command(CLI::App& app, Context& ctx) {
  struct Options {
    std::string path;
    bool json = false;
    ImageLimits limits;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("info", "Describe an image file or a model directory");
  sub->add_option("path", opts->path, "Image file, model directory or model name (hawkeye-tiny)")->required();
  sub->add_flag("--json", opts->json, "Print JSON instead of text");
  // 0 = the default limit, as in score (it once meant "refuse every image" here).
  sub->add_option_function<std::uint64_t>(
      "--max-pixels", [opts](std::uint64_t v) { opts->limits.max_pixels = v > 0 ? v : ImageLimits().max_pixels; },
      "Refuse images with more pixels than this (default 100 megapixels; 0 = the default)");
  sub->callback([opts, &ctx] {
    ctx.prepare(false);
    fs::path path(opts->path);
    std::error_code ec;
    const bool exists = fs::exists(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) throw Error(ErrorCode::io, path.string() + ": cannot read: " + ec.message());
    if (!exists) {
      // A model name (hawkeye-tiny) is looked up on the model search path; anything else is not found.
      if (path.has_parent_path() || path.has_extension()) {
        throw Error(ErrorCode::not_found, path.string() + ": no such file or directory");
      }
      path = model::resolve_model(opts->path);
    }
    ordered_json j;
    if (fs::is_directory(path, ec)) {
      if (!fs::exists(path / "config.json", ec)) {
        throw Error(ErrorCode::invalid_argument,
                    path.string() + ": is a directory, not an image; not a model directory either (no config.json)");
      }
      j = model::describe_model_dir(path);
    } else {
      j = describe_image(path, opts->limits);
    }
    if (opts->json) std::cout << sanitize_json(j).dump(2) << "\n";
    else print_text(j);
    ctx.exit_code = kExitOk;
  });
}

}  // namespace hawkeye::cli
