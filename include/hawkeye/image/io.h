// Safe image loading and saving. Sizes are read from the file header and checked against the limits
// before any pixel is decoded, so a hostile header cannot make hawkeye allocate gigabytes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "hawkeye/image/image.h"

namespace hawkeye {

struct ImageLimits {
  std::uint64_t max_file_bytes = 256ull << 20;   // 256 MiB
  std::uint64_t max_pixels = 100'000'000;        // 100 megapixels
  int max_side = 65'535;
  double max_aspect_ratio = 0;  // longer side / shorter side; 0 = any (a model sets its own, Policy::max_aspect_ratio)
};

// What the header says, without decoding pixels.
struct ImageHeader {
  std::string format;   // "png", "jpeg", "bmp", "gif", "webp", "pnm", "tiff"
  int width = 0;
  int height = 0;
  int channels = 0;     // as stored (1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha); palette = 3 or 4
  int bit_depth = 8;    // bits per channel
  bool palette = false;
  int exif_orientation = 1;  // JPEG only: 1..8 (1 = as stored)
};

// Reads format and size from the first bytes. Errors: unsupported (unknown signature),
// corrupt_data (header truncated or inconsistent). Checks nothing against limits.
ImageHeader probe_image(std::string_view bytes);

// Checks a width x height image against the limits (side, pixels, aspect ratio) before its pixels are
// decoded or used; `format` and `name` go into the message. Errors: limit_exceeded.
void check_image_size(int width, int height, std::string_view format, const ImageLimits& limits, std::string_view name);

// Decodes to 8-bit RGB: grey is replicated, alpha dropped, 16-bit scaled to 8, palettes expanded,
// JPEG EXIF orientation applied. `name` is used in error messages. Errors: limit_exceeded,
// unsupported, corrupt_data (e.g. "truncated JPEG data: no end-of-image marker").
Image decode_image(std::string_view bytes, const ImageLimits& limits = {}, std::string_view name = "<memory>");

// Reads and decodes a file. Extra errors: not_found (missing), invalid_argument (directory),
// corrupt_data (empty file).
Image load_image(const std::filesystem::path& path, const ImageLimits& limits = {});

// Saves by extension: .png, .jpg/.jpeg (quality 1..100), .bmp. Atomic (temp file + rename).
void save_image(const std::filesystem::path& path, const Image& image, int jpeg_quality = 95);

// Encodes to bytes: format "png", "jpeg" or "bmp".
std::string encode_image(const Image& image, std::string_view format, int jpeg_quality = 95);

// True when the file name has an extension hawkeye reads (case-insensitive).
bool has_image_extension(const std::filesystem::path& path);

// True when `path` is an existing regular file that is an image: its name has an image extension or its
// first bytes carry an image format's signature. Used to refuse writing over an image.
bool is_image_file(const std::filesystem::path& path);

}  // namespace hawkeye
