// Fuzz target: the image decoder (hawkeye's own header checks, then OpenCV or the GIF reader) on arbitrary bytes,
// under small limits. It must either return an 8-bit RGB image within the limits whose pixel buffer is exactly
// width x height x 3, or throw hawkeye::Error; a crash, an escaped foreign exception (OpenCV's cv::Exception,
// std::bad_alloc) or an image beyond the limits is a finding. probe_image must agree with the decoded size where
// both succeed (JPEG EXIF rotation may swap the sides).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hawkeye/core/error.h"
#include "hawkeye/image/io.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  hawkeye::ImageLimits limits;
  limits.max_pixels = 1u << 20;  // 1 megapixel: bombs must be refused before they allocate
  limits.max_side = 4096;
  try {
    const hawkeye::Image img = hawkeye::decode_image(bytes, limits, "fuzz");
    if (img.width <= 0 || img.height <= 0 || img.channels != 3) __builtin_trap();
    if (static_cast<std::uint64_t>(img.width) * img.height > limits.max_pixels) __builtin_trap();
    if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * 3) __builtin_trap();
    try {
      const hawkeye::ImageHeader h = hawkeye::probe_image(bytes);
      const bool same = h.width == img.width && h.height == img.height;
      const bool turned = h.width == img.height && h.height == img.width;
      if (!same && !turned) __builtin_trap();
    } catch (const hawkeye::Error&) {
    }
  } catch (const hawkeye::Error&) {
  }
  return 0;
}
