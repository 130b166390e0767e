// KADID types 11-15: white noise (RGB and YCbCr), impulse noise, multiplicative noise, and the documented
// substitute for type 15 (spec sections 3.11-3.15).
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

void white_noise(cv::Mat& rgb, double variance, Rng& rng) {
  cv::Mat n(rgb.size(), rgb.type());
  fill_normal(n, std::sqrt(variance), rng);
  rgb += n;
  clip01(rgb);
}

void white_noise_color_component(cv::Mat& rgb, double variance, Rng& rng) {
  cv::Mat ycc = rgb_to_ycbcr_studio(rgb);
  cv::Mat n(ycc.size(), ycc.type());
  fill_normal(n, std::sqrt(variance), rng);
  ycc += n;
  clip01(ycc);  // imnoise clips its result
  rgb = ycbcr_studio_to_rgb(ycc);
  clip01(rgb);
}

void impulse_noise(cv::Mat& rgb, double density, Rng& rng) {
  // MATLAB imnoise 'salt & pepper' per element: each channel value independently becomes 0 or 1.
  float* p = rgb.ptr<float>();
  const std::size_t n = rgb.total() * rgb.channels();
  const double half = density / 2.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = rng.uniform();
    if (u < half) p[i] = 0.0f;
    else if (u < density) p[i] = 1.0f;
  }
}

void multiplicative_noise(cv::Mat& rgb, double variance, Rng& rng) {
  // MATLAB imnoise 'speckle': J = I + I n, n uniform with zero mean and the given variance.
  const double width = std::sqrt(12.0 * variance);
  float* p = rgb.ptr<float>();
  const std::size_t n = rgb.total() * rgb.channels();
  for (std::size_t i = 0; i < n; ++i) {
    const double noise = width * (rng.uniform() - 0.5);
    p[i] = static_cast<float>(std::clamp(p[i] + p[i] * noise, 0.0, 1.0));
  }
}

void denoise_substitute(cv::Mat& rgb, double variance, Rng& rng) {
  // SUBSTITUTE for KADID's DnCNN denoising, which cannot be reproduced here (no DnCNN weights; BM3D is
  // disabled in Debian's OpenCV). Same first step (Gaussian noise of the level's variance, clipped), then an
  // edge-preserving denoiser per RGB channel: two passes of a bilateral filter whose range sigma is twice
  // the noise sigma. It leaves the same kind of artefact (flattened, waxy texture with blotches growing with
  // the level), not the same pixels. Excluded from labelled sets by default.
  white_noise(rgb, variance, rng);
  const double sigma = std::sqrt(variance);
  std::vector<cv::Mat> ch;
  cv::split(rgb, ch);
  for (cv::Mat& c : ch) {
    for (int pass = 0; pass < 2; ++pass) {
      cv::Mat out;
      cv::bilateralFilter(c, out, 9, 2.0 * sigma, 3.0, cv::BORDER_REPLICATE);
      c = out;
    }
  }
  cv::merge(ch, rgb);
  clip01(rgb);
}

}  // namespace hawkeye::kadid
