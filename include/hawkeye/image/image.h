// The image type of the toolkit: 8-bit, interleaved, row-major, tightly packed (RGB unless said otherwise).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hawkeye {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // 3 = RGB (the norm), 1 = grey
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int c, std::uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c, fill) {}
  bool empty() const { return pixels.empty(); }
  std::size_t stride() const { return static_cast<std::size_t>(width) * channels; }
  std::uint8_t* row(int y) { return pixels.data() + y * stride(); }
  const std::uint8_t* row(int y) const { return pixels.data() + y * stride(); }
  std::uint8_t& at(int x, int y, int c) { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c]; }
  std::uint8_t at(int x, int y, int c) const { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c]; }
  bool operator==(const Image& o) const {
    return width == o.width && height == o.height && channels == o.channels && pixels == o.pixels;
  }
};

}  // namespace hawkeye
