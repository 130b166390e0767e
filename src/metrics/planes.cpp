#include "metrics/planes.h"

#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "hawkeye/core/error.h"

namespace hawkeye::detail {

namespace {

// MATLAB rgb2gray.m coefficients (the first row of the inverse NTSC YIQ matrix), as MATLAB writes them.
constexpr double kLumaR = 0.298936021293775;
constexpr double kLumaG = 0.587043074451121;
constexpr double kLumaB = 0.114020904255103;

struct LumaTables {
  std::array<double, 256> r, g, b;
  LumaTables() {
    for (int v = 0; v < 256; ++v) {
      r[v] = kLumaR * v;
      g[v] = kLumaG * v;
      b[v] = kLumaB * v;
    }
  }
};

const LumaTables& luma_tables() {
  static const LumaTables tables;
  return tables;
}

std::string size_text(const Image& img) {
  return std::to_string(img.width) + "x" + std::to_string(img.height) + "x" + std::to_string(img.channels);
}

}  // namespace

cv::Mat luma_plane_u8(const Image& img) {
  cv::Mat out(img.height, img.width, CV_8U);
  if (img.channels == 1) {
    for (int y = 0; y < img.height; ++y) std::copy_n(img.row(y), img.width, out.ptr<std::uint8_t>(y));
    return out;
  }
  const LumaTables& t = luma_tables();
  for (int y = 0; y < img.height; ++y) {
    const std::uint8_t* p = img.row(y);
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.width; ++x, p += img.channels) {
      // Same order of operations as MATLAB's weighted sum; +0.5 then truncation = round half away from
      // zero for these non-negative values (and no libm floor call per pixel).
      o[x] = static_cast<std::uint8_t>(static_cast<int>(t.r[p[0]] + t.g[p[1]] + t.b[p[2]] + 0.5));
    }
  }
  return out;
}

cv::Mat luma_plane(const Image& img) {
  cv::Mat out;
  luma_plane_u8(img).convertTo(out, CV_64F);
  return out;
}

std::vector<cv::Mat> channel_planes(const Image& img) {
  const cv::Mat interleaved(img.height, img.width, CV_8UC(img.channels), const_cast<std::uint8_t*>(img.pixels.data()));
  std::vector<cv::Mat> bytes, planes(static_cast<std::size_t>(img.channels));
  cv::split(interleaved, bytes);
  for (int c = 0; c < img.channels; ++c) bytes[static_cast<std::size_t>(c)].convertTo(planes[static_cast<std::size_t>(c)], CV_64F);
  return planes;
}

std::vector<cv::Mat> metric_planes(const Image& img, FrColour colour) {
  if (colour == FrColour::luma) return {luma_plane(img)};
  return channel_planes(img);
}

void check_image(std::string_view metric, std::string_view role, const Image& img, int min_width, int min_height) {
  const std::string who = std::string(metric) + ": " + std::string(role);
  require(img.width > 0 && img.height > 0 && !img.pixels.empty(), ErrorCode::invalid_argument, who + " image is empty");
  require(img.channels == 1 || img.channels == 3, ErrorCode::invalid_argument,
          who + " image has " + std::to_string(img.channels) + " channels; 1 (grey) or 3 (RGB) are supported");
  require(img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * img.channels,
          ErrorCode::invalid_argument,
          who + " image holds " + std::to_string(img.pixels.size()) + " bytes, but " + size_text(img) + " needs " +
              std::to_string(static_cast<std::size_t>(img.width) * img.height * img.channels));
  require(img.width >= min_width && img.height >= min_height, ErrorCode::invalid_argument,
          who + " image is " + std::to_string(img.width) + "x" + std::to_string(img.height) + "; " +
              std::string(metric) + " needs at least " + std::to_string(min_width) + "x" + std::to_string(min_height) +
              " pixels");
}

void check_pair(std::string_view metric, const Image& ref, const Image& dist, int min_width, int min_height) {
  check_image(metric, "reference", ref, min_width, min_height);
  check_same_shape(metric, shape_of(ref), dist, min_width, min_height);
}

void check_same_shape(std::string_view metric, const ImageShape& ref, const Image& dist, int min_width, int min_height) {
  check_image(metric, "distorted", dist, min_width, min_height);
  require(ref.width == dist.width && ref.height == dist.height, ErrorCode::invalid_argument,
          std::string(metric) + ": reference is " + std::to_string(ref.width) + "x" + std::to_string(ref.height) +
              " but the distorted image is " + std::to_string(dist.width) + "x" + std::to_string(dist.height) +
              "; full-reference metrics compare images of the same size");
  require(ref.channels == dist.channels, ErrorCode::invalid_argument,
          std::string(metric) + ": reference has " + std::to_string(ref.channels) + " channel(s) but the distorted image has " +
              std::to_string(dist.channels) + " (grey vs colour); convert both to the same kind first");
}

cv::Mat gaussian_kernel(int size, double sigma) {
  cv::Mat k(size, 1, CV_64F);
  const double c = (size - 1) / 2.0;
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    const double x = i - c;
    k.at<double>(i) = std::exp(-(x * x) / (2 * sigma * sigma));
    sum += k.at<double>(i);
  }
  k /= sum;
  return k;
}


}  // namespace hawkeye::detail

namespace hawkeye::detail {

cv::Mat box_downsample(const cv::Mat& src, int f) {
  CV_Assert(src.type() == CV_64F && f >= 1);
  const int h = src.rows, w = src.cols;
  const int oh = (h + f - 1) / f, ow = (w + f - 1) / f;
  if (f == 2) {
    // The common case (MS-SSIM, SSIM on 512x384): out(i, j) = mean of in(2i..2i+1, 2j..2j+1), the
    // row/column past an odd edge being the edge again.
    cv::Mat out(oh, ow, CV_64F);
    for (int i = 0; i < oh; ++i) {
      const double* a = src.ptr<double>(2 * i);
      const double* b = src.ptr<double>(std::min(2 * i + 1, h - 1));
      double* o = out.ptr<double>(i);
      for (int j = 0; j < w / 2; ++j) o[j] = ((a[2 * j] + a[2 * j + 1]) + (b[2 * j] + b[2 * j + 1])) * 0.25;
      if (w % 2) o[ow - 1] = (2 * a[w - 1] + 2 * b[w - 1]) * 0.25;
    }
    return out;
  }
  const int offset = (f - 1) / 2;  // MATLAB's kernel centre floor((f + 1) / 2), 0-based
  // Index maps with MATLAB's 'symmetric' padding (mirror including the edge).
  auto source_index = [&](int i, int n) {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
  };
  std::vector<int> rows(static_cast<std::size_t>(oh) * f), cols(static_cast<std::size_t>(ow) * f);
  for (int i = 0; i < oh; ++i)
    for (int a = 0; a < f; ++a) rows[static_cast<std::size_t>(i) * f + a] = source_index(i * f + a - offset, h);
  for (int j = 0; j < ow; ++j)
    for (int b = 0; b < f; ++b) cols[static_cast<std::size_t>(j) * f + b] = source_index(j * f + b - offset, w);
  const double scale = 1.0 / (static_cast<double>(f) * f);
  cv::Mat out(oh, ow, CV_64F);
  for (int i = 0; i < oh; ++i) {
    double* o = out.ptr<double>(i);
    for (int j = 0; j < ow; ++j) {
      double sum = 0;
      for (int a = 0; a < f; ++a) {
        const double* s = src.ptr<double>(rows[static_cast<std::size_t>(i) * f + a]);
        for (int b = 0; b < f; ++b) sum += s[cols[static_cast<std::size_t>(j) * f + b]];
      }
      o[j] = sum * scale;
    }
  }
  return out;
}

}  // namespace hawkeye::detail
