// KADID types 19-23: jitter, non-eccentricity patch, pixelate, quantization, colour block
// (spec sections 3.19-3.23).
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "hawkeye/core/error.h"
#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

namespace {

// Keys cubic convolution kernel with a = -0.5 (MATLAB interp2 'cubic'; OpenCV's INTER_CUBIC uses -0.75).
inline void cubic_weights(float t, float w[4]) {
  const float a = -0.5f;
  const float x0 = 1.0f + t, x1 = t, x2 = 1.0f - t, x3 = 2.0f - t;
  w[0] = ((a * x0 - 5 * a) * x0 + 8 * a) * x0 - 4 * a;
  w[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
  w[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
  w[3] = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a;
}

}  // namespace

void jitter(cv::Mat& rgb, double amount, Rng& rng) {
  // MATLAB imscatter(I, [], amount, 5): five passes, each resampling every pixel at a position displaced by
  // N(0, amount^2) in x and y, bicubic, replicated borders. Written out instead of cv::remap, whose
  // fixed-point maps (1/32 px) would round away the 0.05 px displacements of level 1.
  const int h = rgb.rows, w = rgb.cols;
  cv::Mat sx(h, w, CV_32F), sy(h, w, CV_32F), out(h, w, CV_32FC3);
  for (int pass = 0; pass < 5; ++pass) {
    fill_normal(sy, amount, rng);
    fill_normal(sx, amount, rng);
    for (int y = 0; y < h; ++y) {
      const float* dxr = sx.ptr<float>(y);
      const float* dyr = sy.ptr<float>(y);
      float* dst = out.ptr<float>(y);
      for (int x = 0; x < w; ++x) {
        const float px = static_cast<float>(x) - dxr[x], py = static_cast<float>(y) - dyr[x];
        const float fx = std::floor(px), fy = std::floor(py);
        float wx[4], wy[4];
        cubic_weights(px - fx, wx);
        cubic_weights(py - fy, wy);
        const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
        int cols[4];
        for (int i = 0; i < 4; ++i) cols[i] = 3 * std::clamp(ix - 1 + i, 0, w - 1);
        float r = 0, g = 0, b = 0;
        for (int j = 0; j < 4; ++j) {
          const float* row = rgb.ptr<float>(std::clamp(iy - 1 + j, 0, h - 1));
          float rr = 0, rg = 0, rb = 0;
          for (int i = 0; i < 4; ++i) {
            const float* p = row + cols[i];
            rr += wx[i] * p[0];
            rg += wx[i] * p[1];
            rb += wx[i] * p[2];
          }
          r += wy[j] * rr;
          g += wy[j] * rg;
          b += wy[j] * rb;
        }
        dst[3 * x] = r;
        dst[3 * x + 1] = g;
        dst[3 * x + 2] = b;
      }
    }
    std::swap(rgb, out);
  }
  // Deliberate deviation (spec 3.19): the bicubic kernel overshoots at edges (to about -0.1 and 1.1), and
  // the generator's final global min-max would then compress the contrast of the whole image by up to 20%
  // because of a few pixels, even at level 1 (0.05 px) and non-monotonically across levels. Clipping keeps
  // the distortion what KADID describes: a displacement.
  clip01(rgb);
}

void non_eccentricity_patch(cv::Mat& rgb, double patches, Rng& rng) {
  // pnum times: copy a 16x16 patch (top-left uniform in [16, H-32] x [16, W-32]) to a spot displaced by
  // round((u - 0.5) * 16) px in each axis. In place and in sequence: later copies may read earlier ones.
  const int h = rgb.rows, w = rgb.cols;
  require(h >= 48 && w >= 48, ErrorCode::invalid_argument,
          "non_eccentricity_patch needs an image of at least 48x48 pixels, got " + std::to_string(w) + "x" +
              std::to_string(h));
  const int n = static_cast<int>(std::lround(patches));
  for (int i = 0; i < n; ++i) {
    const int ys = 16 + static_cast<int>(rng.below(static_cast<std::uint64_t>(h - 48 + 1)));
    const int xs = 16 + static_cast<int>(rng.below(static_cast<std::uint64_t>(w - 48 + 1)));
    const int oy = static_cast<int>(std::lround((rng.uniform() - 0.5) * 16.0));
    const int ox = static_cast<int>(std::lround((rng.uniform() - 0.5) * 16.0));
    const cv::Mat patch = rgb(cv::Rect(xs, ys, 16, 16)).clone();
    patch.copyTo(rgb(cv::Rect(xs + ox, ys + oy, 16, 16)));
  }
}

void pixelate(cv::Mat& rgb, double strength, Rng&) {
  // Nearest-neighbour down to scale z = 0.95 - s^0.6 (size ceil(z * dims), as MATLAB imresize) and back.
  const double z = 0.95 - std::pow(strength, 0.6);
  const int sw = std::max(1, static_cast<int>(std::ceil(z * rgb.cols - 1e-9)));
  const int sh = std::max(1, static_cast<int>(std::ceil(z * rgb.rows - 1e-9)));
  cv::Mat small;
  cv::resize(rgb, small, cv::Size(sw, sh), 0, 0, cv::INTER_NEAREST_EXACT);
  cv::resize(small, rgb, rgb.size(), 0, 0, cv::INTER_NEAREST_EXACT);
}

std::vector<int> multi_otsu_thresholds(const std::vector<double>& hist, int n) {
  // Classes are runs of bins; maximise the between-class variance sum_k S_k^2 / W_k (W = weight, S = first
  // moment) exactly by dynamic programming over (class count, last bin).
  const int bins = static_cast<int>(hist.size());
  const int classes = n + 1;
  require(n >= 1 && classes <= bins, ErrorCode::invalid_argument, "multi_otsu: bad threshold count");
  std::vector<double> cw(bins + 1, 0.0), cs(bins + 1, 0.0);
  for (int i = 0; i < bins; ++i) {
    cw[i + 1] = cw[i] + hist[i];
    cs[i + 1] = cs[i] + hist[i] * i;
  }
  auto cost = [&](int a, int b) {  // bins a..b inclusive
    const double wgt = cw[b + 1] - cw[a];
    if (wgt <= 0) return 0.0;
    const double s = cs[b + 1] - cs[a];
    return s * s / wgt;
  };
  const double kNone = -1.0;
  std::vector<std::vector<double>> f(classes, std::vector<double>(bins, kNone));
  std::vector<std::vector<int>> arg(classes, std::vector<int>(bins, -1));
  for (int b = 0; b < bins; ++b) f[0][b] = cost(0, b);
  for (int m = 1; m < classes; ++m) {
    for (int b = m; b < bins; ++b) {
      double best = kNone;
      int best_i = -1;
      for (int i = m - 1; i < b; ++i) {  // class m covers bins i+1..b
        if (f[m - 1][i] < 0) continue;
        const double v = f[m - 1][i] + cost(i + 1, b);
        if (v > best) {
          best = v;
          best_i = i;
        }
      }
      f[m][b] = best;
      arg[m][b] = best_i;
    }
  }
  std::vector<int> thresholds(n);
  int b = bins - 1;
  for (int m = classes - 1; m >= 1; --m) {
    b = arg[m][b];
    thresholds[m - 1] = b;
  }
  return thresholds;
}

void quantization(cv::Mat& rgb, double thresholds, Rng&) {
  // MATLAB imnoisequantize: N Otsu thresholds on all RGB values pooled (256 bins); each value is replaced by
  // the upper threshold of its bin range, values above the last threshold by 1, those below the first by 0.
  const int n = static_cast<int>(std::lround(thresholds));
  std::vector<double> hist(256, 0.0);
  float* p = rgb.ptr<float>();
  const std::size_t count = rgb.total() * rgb.channels();
  auto bin_of = [](float v) { return std::clamp(static_cast<int>(std::lround(v * 255.0f)), 0, 255); };
  for (std::size_t i = 0; i < count; ++i) hist[bin_of(p[i])] += 1.0;
  const std::vector<int> t = multi_otsu_thresholds(hist, n);
  float lut[256];
  for (int b = 0; b < 256; ++b) {
    if (b <= t[0]) lut[b] = 0.0f;
    else if (b > t[n - 1]) lut[b] = 1.0f;
    else lut[b] = static_cast<float>(*std::lower_bound(t.begin(), t.end(), b)) / 255.0f;
  }
  for (std::size_t i = 0; i < count; ++i) p[i] = lut[bin_of(p[i])];
}

void color_block(cv::Mat& rgb, double blocks, Rng& rng) {
  // pnum opaque 32x32 squares of one uniformly random colour each, top-left (floor(u (H-32)), floor(u (W-32))).
  const int h = rgb.rows, w = rgb.cols;
  require(h >= 32 && w >= 32, ErrorCode::invalid_argument,
          "color_block needs an image of at least 32x32 pixels, got " + std::to_string(w) + "x" + std::to_string(h));
  const int n = static_cast<int>(std::lround(blocks));
  for (int i = 0; i < n; ++i) {
    const int y = static_cast<int>(std::floor(rng.uniform() * (h - 32)));
    const int x = static_cast<int>(std::floor(rng.uniform() * (w - 32)));
    const float r = static_cast<float>(rng.uniform()), g = static_cast<float>(rng.uniform()),
                b = static_cast<float>(rng.uniform());
    rgb(cv::Rect(x, y, 32, 32)).setTo(cv::Scalar(r, g, b));
  }
}

}  // namespace hawkeye::kadid
