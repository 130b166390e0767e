// PSNR as scikit-image's peak_signal_noise_ratio: 10 log10(L^2 / MSE), the MSE pooled over all samples.
#include <cmath>
#include <limits>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/full_reference.h"
#include "metrics/fr_metric.h"

namespace hawkeye {

namespace {

// The samples compared: the luma plane, or a view of the interleaved samples (copied for the cache).
cv::Mat psnr_samples(const Image& img, FrColour colour, bool keep) {
  if (colour == FrColour::luma) return detail::luma_plane_u8(img);
  const cv::Mat view(img.height, img.width * img.channels, CV_8U, const_cast<std::uint8_t*>(img.pixels.data()));
  return keep ? view.clone() : view;
}

void check_options(const PsnrOptions& o) {
  require(std::isfinite(o.data_range) && o.data_range > 0, ErrorCode::invalid_argument,
          "psnr: data_range must be a positive number, not " + std::to_string(o.data_range));
}

double psnr_of(const cv::Mat& a, const cv::Mat& b, double data_range) {
  // Squared errors of 8-bit samples are integers: the sum is exact.
  std::uint64_t sse = 0;
  for (int y = 0; y < a.rows; ++y) {
    const std::uint8_t* p = a.ptr<std::uint8_t>(y);
    const std::uint8_t* q = b.ptr<std::uint8_t>(y);
    std::uint64_t row = 0;
    for (int x = 0; x < a.cols; ++x) {
      const int d = static_cast<int>(p[x]) - static_cast<int>(q[x]);
      row += static_cast<std::uint64_t>(d * d);
    }
    sse += row;
  }
  if (sse == 0) return std::numeric_limits<double>::infinity();
  const double mse = static_cast<double>(sse) / (static_cast<double>(a.rows) * a.cols);
  return 10.0 * std::log10(data_range * data_range / mse);
}

}  // namespace

template <>
struct detail::FrHooks<PsnrOptions> {
  static constexpr const char* name = "psnr";
  using Cache = cv::Mat;  // the reference's samples
  static void check(const Image&, const PsnrOptions& o, std::string_view) { check_options(o); }
  static Cache prepare(const Image& ref, const PsnrOptions& o) { return psnr_samples(ref, o.colour, true); }
  static double score(const Cache& ref, const Image& dist, const PsnrOptions& o) {
    return psnr_of(ref, psnr_samples(dist, o.colour, false), o.data_range);
  }
};

template class FullReferenceMetric<PsnrOptions>;

}  // namespace hawkeye
