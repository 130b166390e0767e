// Shared building blocks of the KADID distortions: MATLAB-compatible splines and tone curves, colour
// spaces, clipping and seeded noise fields.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "hawkeye/core/error.h"
#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

namespace {

// Solves a small dense system A s = b (Gaussian elimination with partial pivoting).
std::vector<double> solve_dense(std::vector<std::vector<double>> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::abs(a[r][col]) > std::abs(a[piv][col])) piv = r;
    std::swap(a[col], a[piv]);
    std::swap(b[col], b[piv]);
    require(a[col][col] != 0.0, ErrorCode::internal, "spline: singular system");
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      for (std::size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> s(n);
  for (std::size_t i = n; i-- > 0;) {
    double acc = b[i];
    for (std::size_t c = i + 1; c < n; ++c) acc -= a[i][c] * s[c];
    s[i] = acc / a[i][i];
  }
  return s;
}

}  // namespace

Spline::Spline(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)) {
  const std::size_t n = x_.size();
  require(n >= 3 && y_.size() == n, ErrorCode::internal, "spline: needs at least 3 knots");
  std::vector<double> dx(n - 1), dd(n - 1);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    dx[i] = x_[i + 1] - x_[i];
    require(dx[i] > 0, ErrorCode::internal, "spline: knots must increase");
    dd[i] = (y_[i + 1] - y_[i]) / dx[i];
  }
  s_.assign(n, 0.0);
  if (n == 3) {
    // MATLAB: with 3 knots the not-a-knot spline is the interpolating parabola.
    const double c2 = (dd[1] - dd[0]) / (x_[2] - x_[0]);
    for (std::size_t i = 0; i < 3; ++i) {
      // derivative of y0 + dd0 (x - x0) + c2 (x - x0)(x - x1)
      s_[i] = dd[0] + c2 * ((x_[i] - x_[0]) + (x_[i] - x_[1]));
    }
    return;
  }
  // Slopes s_i of the C2 Hermite spline; not-a-knot ends = equal third derivatives across x_1 and x_{n-2}.
  std::vector<std::vector<double>> a(n, std::vector<double>(n, 0.0));
  std::vector<double> b(n, 0.0);
  for (std::size_t i = 1; i + 1 < n; ++i) {
    a[i][i - 1] = dx[i];
    a[i][i] = 2.0 * (dx[i - 1] + dx[i]);
    a[i][i + 1] = dx[i - 1];
    b[i] = 3.0 * (dx[i] * dd[i - 1] + dx[i - 1] * dd[i]);
  }
  // (s0 + s1 - 2 d0) / h0^2 = (s1 + s2 - 2 d1) / h1^2
  const double h0 = dx[0] * dx[0], h1 = dx[1] * dx[1];
  a[0][0] = 1.0 / h0;
  a[0][1] = 1.0 / h0 - 1.0 / h1;
  a[0][2] = -1.0 / h1;
  b[0] = 2.0 * dd[0] / h0 - 2.0 * dd[1] / h1;
  const double ha = dx[n - 3] * dx[n - 3], hb = dx[n - 2] * dx[n - 2];
  a[n - 1][n - 3] = 1.0 / ha;
  a[n - 1][n - 2] = 1.0 / ha - 1.0 / hb;
  a[n - 1][n - 1] = -1.0 / hb;
  b[n - 1] = 2.0 * dd[n - 3] / ha - 2.0 * dd[n - 2] / hb;
  s_ = solve_dense(std::move(a), std::move(b));
}

double Spline::operator()(double x) const {
  const std::size_t n = x_.size();
  std::size_t i = 0;
  while (i + 2 < n && x >= x_[i + 1]) ++i;  // at most 4 steps for KADID's curves
  const double h = x_[i + 1] - x_[i];
  const double d = (y_[i + 1] - y_[i]) / h;
  const double t = x - x_[i];
  const double c2 = (3.0 * d - 2.0 * s_[i] - s_[i + 1]) / h;
  const double c3 = (s_[i] + s_[i + 1] - 2.0 * d) / (h * h);
  return y_[i] + t * (s_[i] + t * (c2 + t * c3));
}

double brightness_curve(double x, double c) {
  // The parabola through (0,0), (0.5,c), (1,1): y = (2 - 4c) x^2 + (4c - 1) x.
  return std::clamp((2.0 - 4.0 * c) * x * x + (4.0 * c - 1.0) * x, 0.0, 1.0);
}

void apply_tone_curve(cv::Mat& m, const Spline& f) {
  constexpr int kSteps = 4096;
  std::vector<float> table(kSteps + 1);
  for (int i = 0; i <= kSteps; ++i) table[i] = static_cast<float>(std::clamp(f(static_cast<double>(i) / kSteps), 0.0, 1.0));
  CV_Assert(m.depth() == CV_32F && m.isContinuous());
  float* p = m.ptr<float>();
  const std::size_t n = m.total() * m.channels();
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::clamp(p[i], 0.0f, 1.0f) * kSteps;
    const int k = std::min(static_cast<int>(v), kSteps - 1);
    const float w = v - static_cast<float>(k);
    p[i] = table[k] + w * (table[k + 1] - table[k]);
  }
}

void apply_parabola_curve(cv::Mat& m, double c) {
  CV_Assert(m.depth() == CV_32F && m.isContinuous());
  float* p = m.ptr<float>();
  const std::size_t n = m.total() * m.channels();
  const float a2 = static_cast<float>(2.0 - 4.0 * c), a1 = static_cast<float>(4.0 * c - 1.0);
  for (std::size_t i = 0; i < n; ++i) p[i] = std::clamp(a2 * p[i] * p[i] + a1 * p[i], 0.0f, 1.0f);
}

cv::Mat rgb_to_lab(const cv::Mat& rgb) {
  cv::Mat lab;
  cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
  return lab;
}

cv::Mat lab_to_rgb(const cv::Mat& lab) {
  cv::Mat rgb;
  cv::cvtColor(lab, rgb, cv::COLOR_Lab2RGB);
  return rgb;
}

cv::Mat rgb_to_ycbcr_studio(const cv::Mat& rgb) {
  // MATLAB rgb2ycbcr on doubles in [0, 1] (BT.601, studio swing), spec section 1.5.
  const cv::Matx34f m(65.481f / 255, 128.553f / 255, 24.966f / 255, 16.0f / 255,     //
                      -37.797f / 255, -74.203f / 255, 112.0f / 255, 128.0f / 255,    //
                      112.0f / 255, -93.786f / 255, -18.214f / 255, 128.0f / 255);
  cv::Mat out;
  cv::transform(rgb, out, m);
  return out;
}

cv::Mat ycbcr_studio_to_rgb(const cv::Mat& ycc) {
  // The exact inverse of the affine map above.
  const cv::Matx33d fwd(65.481 / 255, 128.553 / 255, 24.966 / 255,  //
                        -37.797 / 255, -74.203 / 255, 112.0 / 255,   //
                        112.0 / 255, -93.786 / 255, -18.214 / 255);
  const cv::Matx33d inv = fwd.inv();
  const cv::Vec3d off(16.0 / 255, 128.0 / 255, 128.0 / 255);
  const cv::Vec3d t = -(inv * off);
  const cv::Matx34f m(static_cast<float>(inv(0, 0)), static_cast<float>(inv(0, 1)), static_cast<float>(inv(0, 2)),
                      static_cast<float>(t[0]), static_cast<float>(inv(1, 0)), static_cast<float>(inv(1, 1)),
                      static_cast<float>(inv(1, 2)), static_cast<float>(t[1]), static_cast<float>(inv(2, 0)),
                      static_cast<float>(inv(2, 1)), static_cast<float>(inv(2, 2)), static_cast<float>(t[2]));
  cv::Mat out;
  cv::transform(ycc, out, m);
  return out;
}

cv::Mat rgb_to_grey_matlab(const cv::Mat& rgb) {
  cv::Mat grey;
  cv::transform(rgb, grey, cv::Matx13f(0.2989f, 0.5870f, 0.1140f));
  return grey;
}

void clip01(cv::Mat& m) {
  cv::min(m, 1.0, m);
  cv::max(m, 0.0, m);
}

int gaussian_kernel_size(double sigma) { return 2 * static_cast<int>(std::ceil(2.0 * sigma)) + 1; }

void fill_normal(cv::Mat& m, double sigma, Rng& rng) {
  CV_Assert(m.depth() == CV_32F && m.isContinuous());
  float* p = m.ptr<float>();
  const std::size_t n = m.total() * m.channels();
  // Marsaglia's polar method: two normals per accepted pair of uniforms, no trigonometry (2x faster than
  // Box-Muller here, and jitter draws two million normals per image).
  std::size_t i = 0;
  while (i < n) {
    double u, v, r2;
    do {
      u = 2.0 * rng.uniform() - 1.0;
      v = 2.0 * rng.uniform() - 1.0;
      r2 = u * u + v * v;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double m = sigma * std::sqrt(-2.0 * std::log(r2) / r2);
    p[i++] = static_cast<float>(u * m);
    if (i < n) p[i++] = static_cast<float>(v * m);
  }
}

void fill_uniform(cv::Mat& m, Rng& rng) {
  CV_Assert(m.depth() == CV_32F && m.isContinuous());
  float* p = m.ptr<float>();
  const std::size_t n = m.total() * m.channels();
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(rng.uniform());
}

cv::Mat to_u8(const cv::Mat& rgb) {
  cv::Mat out;
  rgb.convertTo(out, CV_8U, 255.0);
  return out;
}

cv::Mat from_u8(const cv::Mat& rgb8) {
  cv::Mat out;
  rgb8.convertTo(out, CV_32F, 1.0 / 255.0);
  return out;
}

}  // namespace hawkeye::kadid
