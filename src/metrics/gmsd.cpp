// GMSD as the authors' GMSD.m computes it: conv2 with a 2x2 average ('same', zero borders), keep every
// second pixel, Prewitt gradients /3 with conv2 'same', similarity (2 g1 g2 + T) / (g1^2 + g2^2 + T) with
// T = 170, score = std2 of the map (normalised by n - 1).
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/full_reference.h"
#include "metrics/fr_metric.h"

namespace hawkeye {

namespace {

constexpr double kT = 170.0;
constexpr double kThird = 1.0 / 3.0;  // the Prewitt kernel's weight, as MATLAB holds it
constexpr int kMinSide = 4;  // a 2x2 map after downsampling, so that its deviation is defined

// GMSD.m's conv2(Y, ones(2)/4, 'same') then Y(1:2:end, 1:2:end), straight from 8-bit samples (sums of
// four integers: exact): the mean of in(2i..2i+1, 2j..2j+1), zeros past an odd edge.
cv::Mat half_size(const cv::Mat& u8) {
  const int h = u8.rows, w = u8.cols, oh = (h + 1) / 2, ow = (w + 1) / 2;
  cv::Mat out(oh, ow, CV_64F);
  for (int i = 0; i < oh; ++i) {
    const std::uint8_t* a = u8.ptr<std::uint8_t>(2 * i);
    const std::uint8_t* b = 2 * i + 1 < h ? u8.ptr<std::uint8_t>(2 * i + 1) : nullptr;
    double* o = out.ptr<double>(i);
    for (int j = 0; j < ow; ++j) {
      const int x0 = 2 * j, x1 = 2 * j + 1;
      int sum = a[x0] + (x1 < w ? a[x1] : 0);
      if (b) sum += b[x0] + (x1 < w ? b[x1] : 0);
      o[j] = sum * 0.25;
    }
  }
  return out;
}

// 8-bit planes: MATLAB luma, or each channel.
std::vector<cv::Mat> u8_planes(const Image& img, FrColour colour) {
  if (colour == FrColour::luma || img.channels == 1) return {detail::luma_plane_u8(img)};
  std::vector<cv::Mat> planes;
  cv::split(cv::Mat(img.height, img.width, CV_8UC(img.channels), const_cast<std::uint8_t*>(img.pixels.data())), planes);
  return planes;
}

// Gradient magnitude of the half-size plane: Prewitt / 3 with zero borders (conv2 'same').
cv::Mat gradient_magnitude(const cv::Mat& u8) {
  const cv::Mat y = half_size(u8);
  const int h = y.rows, w = y.cols;
  cv::Mat padded;
  cv::copyMakeBorder(y, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat g(h, w, CV_64F);
  for (int i = 0; i < h; ++i) {
    const double* up = padded.ptr<double>(i) + 1;
    const double* mid = padded.ptr<double>(i + 1) + 1;
    const double* down = padded.ptr<double>(i + 2) + 1;
    double* out = g.ptr<double>(i);
    for (int j = 0; j < w; ++j) {
      const double ix = ((up[j + 1] - up[j - 1]) + (mid[j + 1] - mid[j - 1]) + (down[j + 1] - down[j - 1])) * kThird;
      const double iy = ((down[j - 1] - up[j - 1]) + (down[j] - up[j]) + (down[j + 1] - up[j + 1])) * kThird;
      out[j] = std::sqrt(ix * ix + iy * iy);
    }
  }
  return g;
}

double gmsd_of(const cv::Mat& g1, const cv::Mat& g2) {
  const double n = static_cast<double>(g1.rows) * g1.cols;
  double sum = 0;
  cv::Mat map(g1.size(), CV_64F);
  for (int i = 0; i < g1.rows; ++i) {
    const double* a = g1.ptr<double>(i);
    const double* b = g2.ptr<double>(i);
    double* m = map.ptr<double>(i);
    for (int j = 0; j < g1.cols; ++j) {
      m[j] = (2 * a[j] * b[j] + kT) / (a[j] * a[j] + b[j] * b[j] + kT);
      sum += m[j];
    }
  }
  const double mean = sum / n;
  double ss = 0;
  for (int i = 0; i < map.rows; ++i) {
    const double* m = map.ptr<double>(i);
    for (int j = 0; j < map.cols; ++j) ss += (m[j] - mean) * (m[j] - mean);
  }
  return std::sqrt(ss / (n - 1));
}

}  // namespace

template <>
struct detail::FrHooks<GmsdOptions> {
  static constexpr const char* name = "gmsd";
  using Cache = std::vector<cv::Mat>;  // gradient magnitudes of the reference's planes
  static void check(const Image& img, const GmsdOptions&, std::string_view role) {
    detail::check_image(name, role, img, kMinSide, kMinSide);
  }
  static Cache prepare(const Image& ref, const GmsdOptions& o) {
    Cache gradients;
    for (const cv::Mat& p : u8_planes(ref, o.colour)) gradients.push_back(gradient_magnitude(p));
    return gradients;
  }
  static double score(const Cache& ref, const Image& dist, const GmsdOptions& o) {
    const std::vector<cv::Mat> planes = u8_planes(dist, o.colour);
    double sum = 0;
    for (std::size_t c = 0; c < planes.size(); ++c) sum += gmsd_of(ref[c], gradient_magnitude(planes[c]));
    return sum / static_cast<double>(planes.size());
  }
};

template class FullReferenceMetric<GmsdOptions>;

}  // namespace hawkeye
