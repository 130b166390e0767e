// Q-Hawkeye's four perception degradations, matching the reference code's PIL/numpy operations:
// noise = np.clip(img + N(0, s), 0, 255).astype(uint8) (truncation); blur = PIL GaussianBlur(radius), whose
// radius is the standard deviation; JPEG = repeated save/load at the quality; darken =
// ImageEnhance.Brightness(f), a blend with black that truncates.
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/distortions/perception.h"
#include "hawkeye/image/ops.h"
#include "image/cv_bridge.h"

namespace hawkeye {

PerceptionParams perception_stage1() { return PerceptionParams{45.0, 2.0, 5, 4, 0.6}; }
PerceptionParams perception_stage2() { return PerceptionParams{65.0, 4.0, 5, 4, 0.5}; }

std::string_view perception_kind_name(PerceptionKind kind) {
  switch (kind) {
    case PerceptionKind::noise: return "noise";
    case PerceptionKind::blur: return "blur";
    case PerceptionKind::jpeg: return "jpeg";
    case PerceptionKind::darken: return "darken";
  }
  return "?";
}

PerceptionKind parse_perception_kind(std::string_view name) {
  for (PerceptionKind k : kPerceptionKinds)
    if (perception_kind_name(k) == name) return k;
  throw Error(ErrorCode::invalid_argument,
              "unknown perception degradation '" + std::string(name) + "' (valid: noise, blur, jpeg, darken)");
}

Image apply_perception(const Image& image, PerceptionKind kind, const PerceptionParams& p, std::uint64_t seed) {
  require(!image.empty() && (image.channels == 3 || image.channels == 1), ErrorCode::invalid_argument,
          "apply_perception: expected a non-empty RGB or grey image");
  Image out = image.channels == 3 ? image : grey_to_rgb(image);
  switch (kind) {
    case PerceptionKind::noise: {
      require(p.noise_sigma >= 0 && std::isfinite(p.noise_sigma), ErrorCode::invalid_argument,
              "noise sigma must be a finite number >= 0");
      Rng rng(seed);
      for (std::uint8_t& v : out.pixels) {
        const double x = std::clamp(v + p.noise_sigma * rng.normal(), 0.0, 255.0);
        v = static_cast<std::uint8_t>(x);  // numpy astype(uint8) truncates
      }
      break;
    }
    case PerceptionKind::blur: {
      require(p.blur_radius > 0 && p.blur_radius <= 100, ErrorCode::invalid_argument, "blur radius must be in (0, 100]");
      const int k = 2 * static_cast<int>(std::ceil(3.0 * p.blur_radius)) + 1;
      cv::Mat m = as_mat(out);
      cv::GaussianBlur(m.clone(), m, cv::Size(k, k), p.blur_radius, p.blur_radius, cv::BORDER_REPLICATE);
      break;
    }
    case PerceptionKind::jpeg: {
      require(p.jpeg_quality >= 1 && p.jpeg_quality <= 100 && p.jpeg_passes >= 1 && p.jpeg_passes <= 100,
              ErrorCode::invalid_argument, "JPEG quality must be 1..100 and passes 1..100");
      cv::Mat bgr;
      cv::cvtColor(as_mat(out), bgr, cv::COLOR_RGB2BGR);
      std::vector<std::uint8_t> buf;
      for (int i = 0; i < p.jpeg_passes; ++i) {
        if (!cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, p.jpeg_quality}))
          throw Error(ErrorCode::internal, "JPEG encoding failed");
        bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
        if (bgr.empty()) throw Error(ErrorCode::internal, "decoding our own JPEG stream failed");
      }
      cv::Mat m = as_mat(out);
      cv::cvtColor(bgr, m, cv::COLOR_BGR2RGB);
      break;
    }
    case PerceptionKind::darken: {
      require(p.darken_factor >= 0 && p.darken_factor <= 1, ErrorCode::invalid_argument,
              "darken factor must be in [0, 1]");
      const float f = static_cast<float>(p.darken_factor);
      for (std::uint8_t& v : out.pixels) v = static_cast<std::uint8_t>(static_cast<float>(v) * f);  // PIL truncates
      break;
    }
  }
  return out;
}

}  // namespace hawkeye
