// GMSD as the authors' GMSD.m computes it: conv2 with a 2x2 average ('same', zero borders), keep every
// second pixel, Prewitt gradients /3 with conv2 'same', similarity (2 g1 g2 + T) / (g1^2 + g2^2 + T) with
// T = 170, score = std2 of the map (normalised by n - 1).
#include <cmath>

#include <opencv2/core.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/full_reference.h"
#include "metrics/fr_metric.h"

namespace hawkeye {

namespace {

constexpr double kT = 170.0;
constexpr int kMinSide = 4;  // a 2x2 map after downsampling, so that its deviation is defined

// Gradient magnitude of the downsampled plane: Prewitt / 3 with zero borders (conv2 'same').
cv::Mat gradient_magnitude(const cv::Mat& plane) {
  const cv::Mat y = detail::box_downsample(plane, 2, detail::BoxBorder::zero);
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
      const double ix = ((up[j + 1] - up[j - 1]) + (mid[j + 1] - mid[j - 1]) + (down[j + 1] - down[j - 1])) / 3;
      const double iy = ((down[j - 1] - up[j - 1]) + (down[j] - up[j]) + (down[j + 1] - up[j + 1])) / 3;
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
    for (const cv::Mat& p : detail::metric_planes(ref, o.colour)) gradients.push_back(gradient_magnitude(p));
    return gradients;
  }
  static double score(const Cache& ref, const Image& dist, const GmsdOptions& o) {
    const std::vector<cv::Mat> planes = detail::metric_planes(dist, o.colour);
    double sum = 0;
    for (std::size_t c = 0; c < planes.size(); ++c) sum += gmsd_of(ref[c], gradient_magnitude(planes[c]));
    return sum / static_cast<double>(planes.size());
  }
};

template class FullReferenceMetric<GmsdOptions>;

}  // namespace hawkeye
