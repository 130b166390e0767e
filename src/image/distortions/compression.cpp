// KADID types 09-10: JPEG 2000 and JPEG round trips through the codecs of Debian's OpenCV (spec 3.09-3.10).
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "hawkeye/core/error.h"
#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

namespace {

cv::Mat codec_round_trip(const cv::Mat& rgb, const char* ext, const std::vector<int>& params) {
  cv::Mat bgr8;
  cv::cvtColor(to_u8(rgb), bgr8, cv::COLOR_RGB2BGR);  // the codecs expect BGR
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(ext, bgr8, buf, params)) {
    throw Error(ErrorCode::unsupported, std::string("this OpenCV build cannot encode ") + ext);
  }
  cv::Mat back = cv::imdecode(buf, cv::IMREAD_COLOR);
  if (back.empty() || back.size() != bgr8.size()) {
    throw Error(ErrorCode::internal, std::string("decoding our own ") + ext + " stream failed");
  }
  cv::cvtColor(back, back, cv::COLOR_BGR2RGB);
  return from_u8(back);
}

}  // namespace

int jpeg2000_x1000(double ratio) {
  // OpenCV's OpenJPEG writer takes an integer X and reaches a compression ratio of 1000 / X (measured in
  // the spec, section 5). KADID's ratios 16, 32, 45, 120, 400 need X = 62.5, 31.25, 22.2, 8.33, 2.5; the
  // halves are resolved towards more bits (X = 63 and 3), because the writer's reversible 5/3 wavelet loses
  // more at a given rate than the irreversible 9/7 wavelet of the original MATLAB encoder.
  const double x = 1000.0 / ratio;
  const double frac = x - std::floor(x);
  const int xi = frac >= 0.5 - 1e-9 ? static_cast<int>(std::ceil(x)) : static_cast<int>(std::floor(x));
  return std::clamp(xi, 1, 999);
}

void jpeg2000(cv::Mat& rgb, double ratio, Rng&) {
  rgb = codec_round_trip(rgb, ".jp2", {cv::IMWRITE_JPEG2000_COMPRESSION_X1000, jpeg2000_x1000(ratio)});
}

void jpeg(cv::Mat& rgb, double quality, Rng&) {
  rgb = codec_round_trip(rgb, ".jpg", {cv::IMWRITE_JPEG_QUALITY, static_cast<int>(std::lround(quality))});
}

}  // namespace hawkeye::kadid
