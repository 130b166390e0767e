// KADID types 04-08: colour diffusion, colour shift, colour quantization, saturation in HSV and in Lab
// (spec sections 3.04-3.08).
#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

void color_diffusion(cv::Mat& rgb, double amount, Rng&) {
  cv::Mat lab = rgb_to_lab(rgb);
  std::vector<cv::Mat> ch;
  cv::split(lab, ch);
  const double sigma = 1.5 * amount + 2.0;
  const int k = gaussian_kernel_size(sigma);
  for (int c = 1; c <= 2; ++c) {
    cv::GaussianBlur(ch[c], ch[c], cv::Size(k, k), sigma, sigma, cv::BORDER_REPLICATE);
    ch[c] *= amount;  // the blurred chroma is also amplified: strong over-saturation at high levels
  }
  cv::merge(ch, lab);
  rgb = lab_to_rgb(lab);
  clip01(rgb);
}

namespace {

// MATLAB gradient(): central differences inside, one-sided differences at the borders.
void gradient_magnitude(const cv::Mat& g, cv::Mat& mag) {
  const int h = g.rows, w = g.cols;
  mag.create(h, w, CV_32F);
  for (int y = 0; y < h; ++y) {
    const float* row = g.ptr<float>(y);
    const float* up = g.ptr<float>(std::max(0, y - 1));
    const float* dn = g.ptr<float>(std::min(h - 1, y + 1));
    const float ydiv = (y == 0 || y == h - 1) ? 1.0f : 2.0f;
    float* out = mag.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      const int xl = std::max(0, x - 1), xr = std::min(w - 1, x + 1);
      const float xdiv = (x == 0 || x == w - 1) ? 1.0f : 2.0f;
      const float gx = w > 1 ? (row[xr] - row[xl]) / xdiv : 0.0f;
      const float gy = h > 1 ? (dn[x] - up[x]) / ydiv : 0.0f;
      out[x] = std::sqrt(gx * gx + gy * gy);
    }
  }
}

void minmax_inplace(cv::Mat& m) {
  double lo = 0, hi = 0;
  cv::minMaxLoc(m, &lo, &hi);
  if (hi > lo) m = (m - lo) / (hi - lo);
}

float percentile(const cv::Mat& m, double p) {
  std::vector<float> v(m.begin<float>(), m.end<float>());
  const std::size_t k = static_cast<std::size_t>(std::floor(p / 100.0 * static_cast<double>(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

void color_shift(cv::Mat& rgb, double amount, Rng& rng) {
  // Weight map: smoothed, normalised edge strength of the grey image (0 in flat areas, 1 on strong edges).
  cv::Mat e;
  gradient_magnitude(rgb_to_grey_matlab(rgb), e);
  cv::GaussianBlur(e, e, cv::Size(17, 17), 4.0, 4.0, cv::BORDER_REPLICATE);
  minmax_inplace(e);
  cv::max(e, 0.1, e);
  cv::min(e, 1.0, e);
  minmax_inplace(e);
  const float p1 = percentile(e, 1.0), p99 = percentile(e, 99.0);
  cv::max(e, p1, e);
  cv::min(e, p99, e);
  minmax_inplace(e);

  // Shift direction: a random unit vector with non-negative components, scaled by amount, rounded.
  double u = rng.uniform(), v = rng.uniform();
  double norm = std::hypot(u, v);
  if (norm == 0.0) u = norm = 1.0;
  const int dy = static_cast<int>(std::lround(u / norm * amount));
  const int dx = static_cast<int>(std::lround(v / norm * amount));

  // The green channel translated by (dy, dx) with replicated edges, blended in with weight e.
  const int h = rgb.rows, w = rgb.cols;
  cv::Mat out = rgb.clone();
  for (int y = 0; y < h; ++y) {
    const cv::Vec3f* src = rgb.ptr<cv::Vec3f>(std::clamp(y - dy, 0, h - 1));
    const cv::Vec3f* cur = rgb.ptr<cv::Vec3f>(y);
    const float* we = e.ptr<float>(y);
    cv::Vec3f* dst = out.ptr<cv::Vec3f>(y);
    for (int x = 0; x < w; ++x) {
      const float gs = src[std::clamp(x - dx, 0, w - 1)][1];
      dst[x][1] = we[x] * gs + (1.0f - we[x]) * cur[x][1];
    }
  }
  rgb = out;
}

namespace {

// Wu's greedy orthogonal bipartition on a 32x32x32 histogram (5 bits per axis): the minimum-variance
// colour quantizer. Moments are cumulative so any box's sums cost 8 lookups.
class WuQuantizer {
 public:
  static constexpr int kSide = 33;  // index 0 is the zero border of the cumulative tables

  explicit WuQuantizer(const cv::Mat& rgb) {
    const std::size_t cells = static_cast<std::size_t>(kSide) * kSide * kSide;
    wt_.assign(cells, 0.0);
    mr_.assign(cells, 0.0);
    mg_.assign(cells, 0.0);
    mb_.assign(cells, 0.0);
    m2_.assign(cells, 0.0);
    for (int y = 0; y < rgb.rows; ++y) {
      const cv::Vec3f* p = rgb.ptr<cv::Vec3f>(y);
      for (int x = 0; x < rgb.cols; ++x) {
        const double r = std::clamp(p[x][0], 0.0f, 1.0f), g = std::clamp(p[x][1], 0.0f, 1.0f),
                     b = std::clamp(p[x][2], 0.0f, 1.0f);
        const std::size_t i = index(bin(r) + 1, bin(g) + 1, bin(b) + 1);
        wt_[i] += 1.0;
        mr_[i] += r;
        mg_[i] += g;
        mb_[i] += b;
        m2_[i] += r * r + g * g + b * b;
      }
    }
    for (auto* t : {&wt_, &mr_, &mg_, &mb_, &m2_}) accumulate(*t);
  }

  std::vector<cv::Vec3f> palette(int n) {
    std::vector<Box> boxes(1, Box{0, kSide - 1, 0, kSide - 1, 0, kSide - 1});
    std::vector<double> var(1, variance(boxes[0]));
    while (static_cast<int>(boxes.size()) < n) {
      // Split the box with the largest variance that can still be cut.
      int best = -1;
      for (std::size_t i = 0; i < boxes.size(); ++i)
        if (var[i] > 0 && (best < 0 || var[i] > var[best])) best = static_cast<int>(i);
      if (best < 0) break;
      Box second;
      if (!cut(boxes[best], second)) {
        var[best] = 0;
        continue;
      }
      boxes.push_back(second);
      var[best] = volume_ok(boxes[best]) ? variance(boxes[best]) : 0.0;
      var.push_back(volume_ok(second) ? variance(second) : 0.0);
    }
    std::vector<cv::Vec3f> colours;
    for (const Box& b : boxes) {
      const double w = vol(b, wt_);
      if (w <= 0) continue;
      colours.emplace_back(static_cast<float>(vol(b, mr_) / w), static_cast<float>(vol(b, mg_) / w),
                           static_cast<float>(vol(b, mb_) / w));
    }
    return colours;
  }

 private:
  struct Box {
    int r0, r1, g0, g1, b0, b1;  // exclusive lower, inclusive upper bounds
  };
  static int bin(double v) { return std::min(31, static_cast<int>(v * 32.0)); }
  static std::size_t index(int r, int g, int b) { return (static_cast<std::size_t>(r) * kSide + g) * kSide + b; }

  static void accumulate(std::vector<double>& t) {
    for (int r = 1; r < kSide; ++r)
      for (int g = 1; g < kSide; ++g)
        for (int b = 1; b < kSide; ++b)
          t[index(r, g, b)] += t[index(r - 1, g, b)] + t[index(r, g - 1, b)] + t[index(r, g, b - 1)] -
                               t[index(r - 1, g - 1, b)] - t[index(r - 1, g, b - 1)] - t[index(r, g - 1, b - 1)] +
                               t[index(r - 1, g - 1, b - 1)];
  }
  static double vol(const Box& c, const std::vector<double>& t) {
    return t[index(c.r1, c.g1, c.b1)] - t[index(c.r1, c.g1, c.b0)] - t[index(c.r1, c.g0, c.b1)] +
           t[index(c.r1, c.g0, c.b0)] - t[index(c.r0, c.g1, c.b1)] + t[index(c.r0, c.g1, c.b0)] +
           t[index(c.r0, c.g0, c.b1)] - t[index(c.r0, c.g0, c.b0)];
  }
  static bool volume_ok(const Box& b) { return (b.r1 - b.r0) * (b.g1 - b.g0) * (b.b1 - b.b0) > 1; }
  double variance(const Box& b) const {
    const double w = vol(b, wt_);
    if (w <= 0) return 0.0;
    const double r = vol(b, mr_), g = vol(b, mg_), bl = vol(b, mb_);
    return vol(b, m2_) - (r * r + g * g + bl * bl) / w;
  }
  // Sums of the part of box b with axis coordinate <= pos (axis 0 = r, 1 = g, 2 = b).
  std::array<double, 4> lower_part(const Box& b, int axis, int pos) const {
    Box lo = b;
    if (axis == 0) lo.r1 = pos;
    else if (axis == 1) lo.g1 = pos;
    else lo.b1 = pos;
    return {vol(lo, wt_), vol(lo, mr_), vol(lo, mg_), vol(lo, mb_)};
  }
  bool cut(Box& a, Box& b) {
    const std::array<double, 4> whole = {vol(a, wt_), vol(a, mr_), vol(a, mg_), vol(a, mb_)};
    double best = -1.0;
    int best_axis = -1, best_pos = -1;
    for (int axis = 0; axis < 3; ++axis) {
      const int first = axis == 0 ? a.r0 : axis == 1 ? a.g0 : a.b0;
      const int last = axis == 0 ? a.r1 : axis == 1 ? a.g1 : a.b1;
      for (int pos = first + 1; pos < last; ++pos) {
        const auto lo = lower_part(a, axis, pos);
        const double w2 = whole[0] - lo[0];
        if (lo[0] <= 0 || w2 <= 0) continue;
        const double r2 = whole[1] - lo[1], g2 = whole[2] - lo[2], b2 = whole[3] - lo[3];
        const double score = (lo[1] * lo[1] + lo[2] * lo[2] + lo[3] * lo[3]) / lo[0] + (r2 * r2 + g2 * g2 + b2 * b2) / w2;
        if (score > best) {
          best = score;
          best_axis = axis;
          best_pos = pos;
        }
      }
    }
    if (best_axis < 0) return false;
    b = a;
    if (best_axis == 0) a.r1 = b.r0 = best_pos;
    else if (best_axis == 1) a.g1 = b.g0 = best_pos;
    else a.b1 = b.b0 = best_pos;
    return true;
  }

  std::vector<double> wt_, mr_, mg_, mb_, m2_;
};

}  // namespace

std::vector<cv::Vec3f> minimum_variance_palette(const cv::Mat& rgb, int n) {
  WuQuantizer q(rgb);
  return q.palette(n);
}

void color_quantization(cv::Mat& rgb, double colours, Rng&) {
  const std::vector<cv::Vec3f> pal = minimum_variance_palette(rgb, static_cast<int>(colours));
  // Inverse colour map on a 32^3 grid (as MATLAB's dither): nearest palette entry to each cell centre.
  std::vector<std::uint8_t> inverse(32 * 32 * 32);
  for (int r = 0; r < 32; ++r)
    for (int g = 0; g < 32; ++g)
      for (int b = 0; b < 32; ++b) {
        const cv::Vec3f c((r + 0.5f) / 32, (g + 0.5f) / 32, (b + 0.5f) / 32);
        int best = 0;
        float bd = 1e9f;
        for (std::size_t i = 0; i < pal.size(); ++i) {
          const cv::Vec3f d = c - pal[i];
          const float dd = d.dot(d);
          if (dd < bd) {
            bd = dd;
            best = static_cast<int>(i);
          }
        }
        inverse[(r * 32 + g) * 32 + b] = static_cast<std::uint8_t>(best);
      }
  auto cell = [](float v) { return std::min(31, static_cast<int>(std::clamp(v, 0.0f, 1.0f) * 32.0f)); };
  // Floyd-Steinberg error diffusion in raster order (weights 7/16, 3/16, 5/16, 1/16).
  const int h = rgb.rows, w = rgb.cols;
  cv::Mat work = rgb.clone();
  for (int y = 0; y < h; ++y) {
    cv::Vec3f* row = work.ptr<cv::Vec3f>(y);
    cv::Vec3f* next = y + 1 < h ? work.ptr<cv::Vec3f>(y + 1) : nullptr;
    cv::Vec3f* out = rgb.ptr<cv::Vec3f>(y);
    for (int x = 0; x < w; ++x) {
      cv::Vec3f v = row[x];
      for (int c = 0; c < 3; ++c) v[c] = std::clamp(v[c], 0.0f, 1.0f);
      const cv::Vec3f q = pal[inverse[(cell(v[0]) * 32 + cell(v[1])) * 32 + cell(v[2])]];
      out[x] = q;
      const cv::Vec3f err = v - q;
      if (x + 1 < w) row[x + 1] += err * (7.0f / 16);
      if (next) {
        if (x > 0) next[x - 1] += err * (3.0f / 16);
        next[x] += err * (5.0f / 16);
        if (x + 1 < w) next[x + 1] += err * (1.0f / 16);
      }
    }
  }
}

void color_saturation_hsv(cv::Mat& rgb, double factor, Rng&) {
  cv::Mat hsv;
  cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);  // float: H in degrees, S and V in [0, 1]
  std::vector<cv::Mat> ch;
  cv::split(hsv, ch);
  ch[1] *= factor;  // not clamped: a negative factor swings hues to their complement
  cv::merge(ch, hsv);
  cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
  clip01(rgb);
}

void color_saturation_lab(cv::Mat& rgb, double factor, Rng&) {
  cv::Mat lab = rgb_to_lab(rgb);
  std::vector<cv::Mat> ch;
  cv::split(lab, ch);
  ch[1] *= factor;
  ch[2] *= factor;
  cv::merge(ch, lab);
  rgb = lab_to_rgb(lab);
  clip01(rgb);
}

}  // namespace hawkeye::kadid
