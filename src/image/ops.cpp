#include "hawkeye/image/ops.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "hawkeye/core/error.h"
#include "image/cv_bridge.h"

namespace hawkeye {

namespace {

void require_image(const Image& img, const char* what) {
  require(!img.empty() && img.width > 0 && img.height > 0, ErrorCode::invalid_argument,
          std::string(what) + ": empty image");
  require(img.channels == 1 || img.channels == 3, ErrorCode::invalid_argument,
          std::string(what) + ": expected 1 or 3 channels, got " + std::to_string(img.channels));
}

int cv_interpolation(Interpolation interp) {
  switch (interp) {
    case Interpolation::nearest: return cv::INTER_NEAREST;
    case Interpolation::nearest_exact: return cv::INTER_NEAREST_EXACT;
    case Interpolation::linear: return cv::INTER_LINEAR;
    case Interpolation::cubic: return cv::INTER_CUBIC;
    case Interpolation::area: return cv::INTER_AREA;
    case Interpolation::lanczos: return cv::INTER_LANCZOS4;
  }
  return cv::INTER_AREA;
}

}  // namespace

Image resize(const Image& img, int width, int height, Interpolation interp) {
  require_image(img, "resize");
  require(width >= 1 && height >= 1, ErrorCode::invalid_argument,
          "resize: target size " + std::to_string(width) + "x" + std::to_string(height) + " must be at least 1x1");
  if (width == img.width && height == img.height) return img;
  Image out(width, height, img.channels);
  cv::Mat dst = as_mat(out);
  cv::resize(as_mat(img), dst, cv::Size(width, height), 0, 0, cv_interpolation(interp));
  return out;
}

Image crop(const Image& img, int x, int y, int width, int height) {
  require_image(img, "crop");
  require(width >= 1 && height >= 1 && x >= 0 && y >= 0 && x + width <= img.width && y + height <= img.height,
          ErrorCode::invalid_argument,
          "crop: window " + std::to_string(width) + "x" + std::to_string(height) + " at (" + std::to_string(x) + ", " +
              std::to_string(y) + ") does not fit in a " + std::to_string(img.width) + "x" +
              std::to_string(img.height) + " image");
  Image out(width, height, img.channels);
  const std::size_t row_bytes = static_cast<std::size_t>(width) * img.channels;
  for (int r = 0; r < height; ++r) {
    std::copy_n(img.row(y + r) + static_cast<std::size_t>(x) * img.channels, row_bytes, out.row(r));
  }
  return out;
}

Image flip_horizontal(const Image& img) {
  require_image(img, "flip_horizontal");
  cv::Mat out;
  cv::flip(as_mat(img), out, 1);
  return from_mat(out);
}

Image flip_vertical(const Image& img) {
  require_image(img, "flip_vertical");
  cv::Mat out;
  cv::flip(as_mat(img), out, 0);
  return from_mat(out);
}

Image rotate_clockwise(const Image& img) {
  require_image(img, "rotate_clockwise");
  cv::Mat out;
  cv::rotate(as_mat(img), out, cv::ROTATE_90_CLOCKWISE);
  return from_mat(out);
}

Image center_crop(const Image& img, int width, int height) {
  require_image(img, "center_crop");
  require(width <= img.width && height <= img.height, ErrorCode::invalid_argument,
          "center_crop: " + std::to_string(width) + "x" + std::to_string(height) + " is larger than the " +
              std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  return crop(img, (img.width - width) / 2, (img.height - height) / 2, width, height);
}

Image resize_cover(const Image& img, int width, int height) {
  require_image(img, "resize_cover");
  require(width >= 1 && height >= 1, ErrorCode::invalid_argument,
          "resize_cover: target size " + std::to_string(width) + "x" + std::to_string(height) +
              " must be at least 1x1");
  if (img.width == width && img.height == height) return img;
  const double scale = std::max(static_cast<double>(width) / img.width, static_cast<double>(height) / img.height);
  // Round the scaled size, but never below the target (floating error must not make the crop impossible).
  const int sw = std::max(width, static_cast<int>(std::lround(img.width * scale)));
  const int sh = std::max(height, static_cast<int>(std::lround(img.height * scale)));
  const Image scaled = resize(img, sw, sh, scale < 1.0 ? Interpolation::area : Interpolation::cubic);
  return center_crop(scaled, width, height);
}

Image rgb_to_grey(const Image& rgb) {
  require_image(rgb, "rgb_to_grey");
  if (rgb.channels == 1) return rgb;
  Image out(rgb.width, rgb.height, 1);
  cv::Mat dst = as_mat(out);
  cv::cvtColor(as_mat(rgb), dst, cv::COLOR_RGB2GRAY);
  return out;
}

Image grey_to_rgb(const Image& grey) {
  require_image(grey, "grey_to_rgb");
  if (grey.channels == 3) return grey;
  Image out(grey.width, grey.height, 3);
  cv::Mat dst = as_mat(out);
  cv::cvtColor(as_mat(grey), dst, cv::COLOR_GRAY2RGB);
  return out;
}

double mean_abs_difference(const Image& a, const Image& b) {
  require(a.width == b.width && a.height == b.height && a.channels == b.channels, ErrorCode::invalid_argument,
          "mean_abs_difference: images differ in size or channels (" + std::to_string(a.width) + "x" +
              std::to_string(a.height) + "x" + std::to_string(a.channels) + " vs " + std::to_string(b.width) + "x" +
              std::to_string(b.height) + "x" + std::to_string(b.channels) + ")");
  if (a.pixels.empty()) return 0.0;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += static_cast<std::uint64_t>(std::abs(a.pixels[i] - b.pixels[i]));
  return static_cast<double>(sum) / static_cast<double>(a.pixels.size());
}

}  // namespace hawkeye
