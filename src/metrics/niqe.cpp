// NIQE as the authors' MATLAB release computes it (computequality.m, computefeature.m,
// estimateaggdparam.m; called with 96x96 blocks and no overlap), in double precision.
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/mat_file.h"
#include "hawkeye/metrics/no_reference.h"
#include "metrics/nss.h"
#include "metrics/planes.h"

namespace hawkeye {

namespace {

constexpr int kBlock = 96;
constexpr int kFeatures = 36;
constexpr double kFlatNoise = 1e-9;

// ---- MATLAB imresize(img, scale) with the default bicubic kernel and antialiasing (scale < 1).
double cubic(double x) {
  const double a = std::abs(x), a2 = a * a, a3 = a2 * a;
  if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
  if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
  return 0;
}

struct Contributions {
  int taps = 0;
  std::vector<int> index;      // out_len x taps, 0-based, mirrored into range
  std::vector<double> weight;  // out_len x taps, rows sum to 1
};

Contributions contributions(int in_len, int out_len, double scale) {
  const double width = 4.0 / scale;  // the kernel widened for antialiasing
  Contributions c;
  c.taps = static_cast<int>(std::ceil(width)) + 2;
  c.index.resize(static_cast<std::size_t>(out_len) * c.taps);
  c.weight.resize(c.index.size());
  for (int i = 0; i < out_len; ++i) {
    const double u = (i + 1) / scale + 0.5 * (1 - 1 / scale);  // 1-based, as MATLAB
    const double left = std::floor(u - width / 2);
    double sum = 0;
    for (int k = 0; k < c.taps; ++k) {
      const double idx = left + k;  // 1-based source index
      const double w = scale * cubic(scale * (u - idx));
      c.weight[static_cast<std::size_t>(i) * c.taps + k] = w;
      sum += w;
      // MATLAB mirrors out-of-range indices: aux = [1:n, n:-1:1], index = aux(mod(idx - 1, 2n) + 1).
      const long long m = ((static_cast<long long>(idx) - 1) % (2LL * in_len) + 2LL * in_len) % (2LL * in_len);
      c.index[static_cast<std::size_t>(i) * c.taps + k] = static_cast<int>(m < in_len ? m : 2LL * in_len - 1 - m);
    }
    for (int k = 0; k < c.taps; ++k) c.weight[static_cast<std::size_t>(i) * c.taps + k] /= sum;
  }
  return c;
}

cv::Mat imresize_matlab(const cv::Mat& src, double scale) {
  const int out_rows = static_cast<int>(std::ceil(src.rows * scale));
  const int out_cols = static_cast<int>(std::ceil(src.cols * scale));
  // MATLAB resizes along dimension 1 (rows) first when both scales are equal.
  const Contributions cr = contributions(src.rows, out_rows, scale);
  cv::Mat tmp(out_rows, src.cols, CV_64F, cv::Scalar(0));
  for (int i = 0; i < out_rows; ++i) {
    double* o = tmp.ptr<double>(i);
    for (int k = 0; k < cr.taps; ++k) {
      const double w = cr.weight[static_cast<std::size_t>(i) * cr.taps + k];
      const double* s = src.ptr<double>(cr.index[static_cast<std::size_t>(i) * cr.taps + k]);
      for (int j = 0; j < src.cols; ++j) o[j] += w * s[j];
    }
  }
  const Contributions cc = contributions(src.cols, out_cols, scale);
  cv::Mat out(out_rows, out_cols, CV_64F);
  for (int i = 0; i < out_rows; ++i) {
    const double* s = tmp.ptr<double>(i);
    double* o = out.ptr<double>(i);
    for (int j = 0; j < out_cols; ++j) {
      double v = 0;
      for (int k = 0; k < cc.taps; ++k) {
        v += cc.weight[static_cast<std::size_t>(j) * cc.taps + k] * s[cc.index[static_cast<std::size_t>(j) * cc.taps + k]];
      }
      o[j] = v;
    }
  }
  return out;
}

// ---- features

struct Aggd {
  double shape, beta_left, beta_right;
};

// estimateaggdparam.m on a vector.
Aggd estimate_aggd(const std::vector<double>& vec) {
  double neg_sq = 0, pos_sq = 0, abs_sum = 0, sq = 0;
  std::size_t neg = 0, pos = 0;
  for (const double v : vec) {
    if (v < 0) {
      neg_sq += v * v;
      ++neg;
    } else if (v > 0) {
      pos_sq += v * v;
      ++pos;
    }
    abs_sum += std::abs(v);
    sq += v * v;
  }
  const double n = static_cast<double>(vec.size());
  const double left = std::sqrt(neg_sq / static_cast<double>(neg));  // NaN when empty, as mean([]) in MATLAB
  const double right = std::sqrt(pos_sq / static_cast<double>(pos));
  const double gh = left / right;
  const double mean_abs = abs_sum / n;
  const double rhat = mean_abs * mean_abs / (sq / n);
  const double rhatnorm = rhat * (gh * gh * gh + 1) * (gh + 1) / ((gh * gh + 1) * (gh * gh + 1));
  const double alpha = detail::aggd_shape_matlab(rhatnorm);
  const double f = std::sqrt(std::tgamma(1 / alpha) / std::tgamma(3 / alpha));
  return {alpha, left * f, right * f};
}

// computefeature.m on one block of MSCN coefficients (circshift wraps inside the block).
std::array<double, 18> block_features(const cv::Mat& z) {
  const int h = z.rows, w = z.cols;
  std::vector<double> vec(static_cast<std::size_t>(h) * w);
  for (int i = 0; i < h; ++i) std::copy_n(z.ptr<double>(i), w, vec.begin() + static_cast<std::ptrdiff_t>(i) * w);
  std::array<double, 18> f{};
  const Aggd a0 = estimate_aggd(vec);
  f[0] = a0.shape;
  f[1] = (a0.beta_left + a0.beta_right) / 2;
  // circshift by [0 1], [1 0], [1 1], [1 -1]: the product with the pixel (di, dj) before, wrapping.
  const int shifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}};
  std::vector<double> pair(vec.size());
  for (int s = 0; s < 4; ++s) {
    const int di = shifts[s][0], dj = shifts[s][1];
    for (int i = 0; i < h; ++i) {
      const double* row = z.ptr<double>(i);
      const double* other = z.ptr<double>((i - di + h) % h);
      double* out = pair.data() + static_cast<std::ptrdiff_t>(i) * w;
      for (int j = 0; j < w; ++j) out[j] = row[j] * other[(j - dj + w) % w];
    }
    const Aggd a = estimate_aggd(pair);
    f[2 + 4 * s] = a.shape;
    f[3 + 4 * s] = (a.beta_right - a.beta_left) * (std::tgamma(2 / a.shape) / std::tgamma(1 / a.shape));
    f[4 + 4 * s] = a.beta_left;
    f[5 + 4 * s] = a.beta_right;
  }
  return f;
}

// Features of every block at one scale, appended to rows[b][offset .. offset + 18).
void scale_features(const cv::Mat& im, int block, std::vector<std::array<double, kFeatures>>& rows, int offset) {
  static const cv::Mat window = detail::gaussian_kernel(7, 7.0 / 6.0);
  cv::Mat mu, e2;
  cv::sepFilter2D(im, mu, CV_64F, window, window, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
  cv::sepFilter2D(im.mul(im), e2, CV_64F, window, window, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
  cv::Mat z(im.size(), CV_64F);
  for (int i = 0; i < im.rows; ++i) {
    const double* x = im.ptr<double>(i);
    const double* m = mu.ptr<double>(i);
    const double* s = e2.ptr<double>(i);
    double* o = z.ptr<double>(i);
    for (int j = 0; j < im.cols; ++j) {
      o[j] = (x[j] - m[j]) / (std::sqrt(std::abs(s[j] - m[j] * m[j])) + 1);
      // In a flat neighbourhood x - mu is 0 but comes out as rounding noise (~1e-13) that still counts as
      // a negative or positive sample in the AGGD fit. Zeroing it reproduces the MATLAB values much
      // better (TID2013 I19: 5.0% -> 0.35% off); real coefficients are far larger (>~1e-5), and the
      // results move by less than 0.02% for any threshold in 1e-11 .. 1e-8.
      if (std::abs(o[j]) < kFlatNoise) o[j] = 0;
    }
  }
  const int brows = im.rows / block, bcols = im.cols / block;
  rows.resize(static_cast<std::size_t>(brows) * bcols);
  cv::parallel_for_(cv::Range(0, brows * bcols), [&](const cv::Range& range) {
    for (int b = range.start; b < range.end; ++b) {
      const int bi = b % brows, bj = b / brows;  // MATLAB's blkproc order (column-major); order is irrelevant
      const std::array<double, 18> f = block_features(z(cv::Rect(bj * block, bi * block, block, block)));
      std::copy(f.begin(), f.end(), rows[static_cast<std::size_t>(b)].begin() + offset);
    }
  });
}

// MATLAB pinv: singular values below max(size) * eps(norm) are dropped.
cv::Mat pinv(const cv::Mat& a) {
  cv::Mat w, u, vt;
  cv::SVD::compute(a, w, u, vt, cv::SVD::FULL_UV);
  const double top = w.at<double>(0);
  const double tol = std::max(a.rows, a.cols) * (std::nextafter(top, std::numeric_limits<double>::infinity()) - top);
  cv::Mat inv_w = cv::Mat::zeros(a.cols, a.rows, CV_64F);
  for (int k = 0; k < w.rows; ++k) {
    if (w.at<double>(k) > tol) inv_w.at<double>(k, k) = 1.0 / w.at<double>(k);
  }
  return vt.t() * inv_w * u.t();
}

}  // namespace

struct Niqe::Model {
  cv::Mat mu;   // 1 x 36
  cv::Mat cov;  // 36 x 36
};

Niqe Niqe::load(const std::filesystem::path& mat_path) {
  const MatFile file = read_mat_file(mat_path);
  const bool live_names = file.has("mu_prisparam");
  const MatArray& mu = file.get(live_names ? "mu_prisparam" : "pop_mu");
  const MatArray& cov = file.get(live_names ? "cov_prisparam" : "pop_cov");
  const std::string src = mat_path.string();
  require(static_cast<std::size_t>(mu.rows) * mu.cols == kFeatures && (mu.rows == 1 || mu.cols == 1),
          ErrorCode::invalid_argument,
          src + ": the pristine mean is " + std::to_string(mu.rows) + "x" + std::to_string(mu.cols) + "; NIQE needs 1x36");
  require(cov.rows == kFeatures && cov.cols == kFeatures, ErrorCode::invalid_argument,
          src + ": the pristine covariance is " + std::to_string(cov.rows) + "x" + std::to_string(cov.cols) +
              "; NIQE needs 36x36");
  auto m = std::make_shared<Model>();
  m->mu = cv::Mat(1, kFeatures, CV_64F, const_cast<double*>(mu.values.data())).clone();
  m->cov = cv::Mat(kFeatures, kFeatures, CV_64F, const_cast<double*>(cov.values.data())).clone();
  require(cv::checkRange(m->mu) && cv::checkRange(m->cov), ErrorCode::corrupt_data, src + ": the NIQE model holds non-finite values");
  Niqe n;
  n.model_ = std::move(m);
  return n;
}

double Niqe::compute(const Image& img) const {
  detail::check_image("niqe", "input", img, kBlock, kBlock);
  cv::Mat im = detail::luma_plane(img);
  im = im(cv::Rect(0, 0, im.cols / kBlock * kBlock, im.rows / kBlock * kBlock)).clone();
  std::vector<std::array<double, kFeatures>> rows;
  scale_features(im, kBlock, rows, 0);
  scale_features(imresize_matlab(im, 0.5), kBlock / 2, rows, 18);

  // nanmean over each feature; nancov over the patches whose 36 features are all finite.
  cv::Mat mu_d(1, kFeatures, CV_64F);
  for (int k = 0; k < kFeatures; ++k) {
    double sum = 0;
    int n = 0;
    for (const auto& r : rows) {
      if (std::isfinite(r[static_cast<std::size_t>(k)])) {
        sum += r[static_cast<std::size_t>(k)];
        ++n;
      }
    }
    mu_d.at<double>(k) = n > 0 ? sum / n : std::numeric_limits<double>::quiet_NaN();
  }
  std::vector<const std::array<double, kFeatures>*> complete;
  for (const auto& r : rows) {
    if (std::all_of(r.begin(), r.end(), [](double v) { return std::isfinite(v); })) complete.push_back(&r);
  }
  if (complete.empty() || !cv::checkRange(mu_d)) {
    throw Error(ErrorCode::numerical, "niqe: no 96x96 patch of the image has finite statistics (flat image?): NIQE is undefined");
  }
  // MATLAB's cov of a single observation is 0: one usable patch gives a zero covariance.
  cv::Mat cov_d = cv::Mat::zeros(kFeatures, kFeatures, CV_64F);
  if (complete.size() > 1) {
    std::array<double, kFeatures> mean{};
    for (const auto* r : complete)
      for (int k = 0; k < kFeatures; ++k) mean[static_cast<std::size_t>(k)] += (*r)[static_cast<std::size_t>(k)];
    for (double& v : mean) v /= static_cast<double>(complete.size());
    for (int a = 0; a < kFeatures; ++a) {
      for (int b = a; b < kFeatures; ++b) {
        double s = 0;
        for (const auto* r : complete) {
          s += ((*r)[static_cast<std::size_t>(a)] - mean[static_cast<std::size_t>(a)]) *
               ((*r)[static_cast<std::size_t>(b)] - mean[static_cast<std::size_t>(b)]);
        }
        cov_d.at<double>(a, b) = cov_d.at<double>(b, a) = s / static_cast<double>(complete.size() - 1);
      }
    }
  }
  const cv::Mat inv = pinv((model_->cov + cov_d) / 2);
  const cv::Mat d = model_->mu - mu_d;
  const double q = cv::Mat(d * inv * d.t()).at<double>(0);
  require(q >= 0 && std::isfinite(q), ErrorCode::numerical,
          "niqe: the Mahalanobis form came out as " + std::to_string(q) + " (ill-conditioned covariance)");
  return std::sqrt(q);
}

double Niqe::compute(const Image& img, const std::filesystem::path& mat_path) { return load(mat_path).compute(img); }

}  // namespace hawkeye
