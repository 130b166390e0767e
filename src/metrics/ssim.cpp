// SSIM and MS-SSIM as the authors' MATLAB scripts compute them (ssim.m 2009 and msssim.m with
// ssim_index_new.m): Gaussian 11x11 window sigma 1.5 applied with filter2(..., 'valid'), C1 = (0.01 L)^2,
// C2 = (0.03 L)^2, L = 255, mean of the maps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/full_reference.h"
#include "metrics/fr_metric.h"

namespace hawkeye {

namespace {

constexpr int kWindow = 11;
constexpr double kSigma = 1.5;
constexpr double kC1 = (0.01 * 255) * (0.01 * 255);
constexpr double kC2 = (0.03 * 255) * (0.03 * 255);
constexpr int kScales = 5;
constexpr double kMsWeights[kScales] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
constexpr int kMsMinSide = kWindow << (kScales - 1);  // 176: msssim.m's check min(h, w) / 2^(level-1) >= 11

const cv::Mat& window() {
  static const cv::Mat w = detail::gaussian_kernel(kWindow, kSigma);
  return w;
}

// What the SSIM map needs from the reference alone.
struct RefStats {
  cv::Mat img;  // the plane (CV_64F, full size)
  cv::Mat mu;   // local mean, valid region
  cv::Mat var;  // local variance, valid region
};

// ---- Row kernels. Each is compiled twice (AVX2 and the x86-64 baseline) and picked at run time; ISO C++
// forbids contracting a * b + c into an FMA here, and every lane does the same operations in the same
// order, so both versions give bit-identical results.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAWKEYE_ROW_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define HAWKEYE_ROW_KERNEL
#endif

// sum += g (a + b), sum_sq += g (a^2 + b^2): rows k and 10 - k of the symmetric window.
HAWKEYE_ROW_KERNEL void add_pair(double g, const double* __restrict a, const double* __restrict b,
                                 double* __restrict sum, double* __restrict sum_sq, int w) {
  for (int j = 0; j < w; ++j) {
    sum[j] += g * (a[j] + b[j]);
    sum_sq[j] += g * (a[j] * a[j] + b[j] * b[j]);
  }
}

HAWKEYE_ROW_KERNEL void add_single(double g, const double* __restrict a, double* __restrict sum,
                                   double* __restrict sum_sq, int w) {
  for (int j = 0; j < w; ++j) {
    sum[j] += g * a[j];
    sum_sq[j] += g * (a[j] * a[j]);
  }
}

// sum_xy += g (xa ya + xb yb), or g xa ya for the centre row (xb == nullptr).
HAWKEYE_ROW_KERNEL void add_cross(double g, const double* __restrict xa, const double* __restrict ya,
                                  const double* __restrict xb, const double* __restrict yb, double* __restrict sum_xy,
                                  int w) {
  if (xb == nullptr) {
    for (int j = 0; j < w; ++j) sum_xy[j] += g * (xa[j] * ya[j]);
    return;
  }
  for (int j = 0; j < w; ++j) sum_xy[j] += g * (xa[j] * ya[j] + xb[j] * yb[j]);
}

// Horizontal pass of one row: h[j] = sum_k g[k] v[j + k], taps k and 10 - k paired.
HAWKEYE_ROW_KERNEL void horizontal(const double* g, const double* __restrict v, double* __restrict h, int out_cols) {
  for (int j = 0; j < out_cols; ++j) h[j] = 0;
  for (int k = 0; k < kWindow / 2; ++k) {
    const double gk = g[k];
    const double* lo = v + k;
    const double* hi = v + (kWindow - 1 - k);
    for (int j = 0; j < out_cols; ++j) h[j] += gk * (lo[j] + hi[j]);
  }
  const double gc = g[kWindow / 2];
  for (int j = 0; j < out_cols; ++j) h[j] += gc * v[j + kWindow / 2];
}

// The SSIM and CS map values of one row (summed by the caller in order).
HAWKEYE_ROW_KERNEL void ssim_cs_row(const double* __restrict m1, const double* __restrict v1,
                                    const double* __restrict m2, const double* __restrict e22,
                                    const double* __restrict e12, double* __restrict ssim_out,
                                    double* __restrict cs_out, int ow) {
  for (int j = 0; j < ow; ++j) {
    const double mu1_mu2 = m1[j] * m2[j];
    const double mu2_sq = m2[j] * m2[j];
    const double sigma2_sq = e22[j] - mu2_sq;
    const double sigma12 = e12[j] - mu1_mu2;
    const double cs = (2 * sigma12 + kC2) / (v1[j] + sigma2_sq + kC2);
    cs_out[j] = cs;
    ssim_out[j] = (2 * mu1_mu2 + kC1) / (m1[j] * m1[j] + mu2_sq + kC1) * cs;
  }
}

// Output rows of the valid region in fixed chunks (the same for any thread count, so sums are
// deterministic), each filtered by streaming: for one output row, the vertical pass accumulates the 11
// input rows of every quantity (products computed on the fly, no full-size temporaries), then the
// horizontal pass. `vertical(i, g, vert, w)` fills the N quantity rows of output row i; `sink(chunk, i, h)`
// gets the N filtered rows followed by 2 rows of scratch space.
constexpr int kChunks = 32;

template <int N, typename Vertical, typename RowSink>
void filter_rows_valid(int in_cols, int out_rows, int out_cols, Vertical vertical, RowSink sink) {
  const double* g = window().ptr<double>();
  const int chunks = std::min(kChunks, out_rows);
  cv::parallel_for_(cv::Range(0, chunks), [&](const cv::Range& range) {
    // N filtered rows plus 2 scratch rows for the sink.
    std::vector<double> vert(static_cast<std::size_t>(N) * in_cols), horiz(static_cast<std::size_t>(N + 2) * out_cols);
    for (int c = range.start; c < range.end; ++c) {
      const int r0 = static_cast<int>(static_cast<std::int64_t>(out_rows) * c / chunks);
      const int r1 = static_cast<int>(static_cast<std::int64_t>(out_rows) * (c + 1) / chunks);
      for (int i = r0; i < r1; ++i) {
        std::fill(vert.begin(), vert.end(), 0.0);
        vertical(i, g, vert.data(), in_cols);
        for (int q = 0; q < N; ++q) {
          horizontal(g, vert.data() + static_cast<std::size_t>(q) * in_cols,
                     horiz.data() + static_cast<std::size_t>(q) * out_cols, out_cols);
        }
        sink(c, i, horiz.data());
      }
    }
  });
}

// The vertical pass of x and x^2 for output row i into (sum, sum_sq): rows k and 10 - k paired.
void vertical_moments(const cv::Mat& x, int i, const double* g, double* sum, double* sum_sq, int w) {
  for (int k = 0; k < kWindow / 2; ++k) {
    add_pair(g[k], x.ptr<double>(i + k), x.ptr<double>(i + kWindow - 1 - k), sum, sum_sq, w);
  }
  add_single(g[kWindow / 2], x.ptr<double>(i + kWindow / 2), sum, sum_sq, w);
}

RefStats ref_stats(const cv::Mat& x) {
  RefStats r;
  r.img = x;
  const int oh = x.rows - kWindow + 1, ow = x.cols - kWindow + 1;
  r.mu.create(oh, ow, CV_64F);
  r.var.create(oh, ow, CV_64F);
  filter_rows_valid<2>(
      x.cols, oh, ow, [&](int i, const double* g, double* v, int w) { vertical_moments(x, i, g, v, v + w, w); },
      [&](int, int i, double* h) {
        double* mu = r.mu.ptr<double>(i);
        double* var = r.var.ptr<double>(i);
        for (int j = 0; j < ow; ++j) {
          mu[j] = h[j];
          var[j] = h[ow + j] - h[j] * h[j];
        }
      });
  return r;
}

struct SsimMeans {
  double ssim = 0;  // mean of the SSIM map
  double cs = 0;    // mean of the contrast-structure map
};

// The means of the SSIM and CS maps of (x, y). With the reference's statistics cached (r.mu, r.var) three
// quantities of y are filtered; without them (one-shot, r.mu empty) the reference's two come in the same
// pass, so no full-size map is written.
SsimMeans ssim_means(const RefStats& r, const cv::Mat& y) {
  const cv::Mat& x = r.img;
  const bool cached = !r.mu.empty();
  const int oh = x.rows - kWindow + 1, ow = x.cols - kWindow + 1;
  std::vector<double> chunk_ssim(kChunks, 0.0), chunk_cs(kChunks, 0.0);
  // Quantity rows: y, y^2, x y, then x, x^2 when not cached.
  const auto vertical = [&](int i, const double* g, double* v, int w) {
    vertical_moments(y, i, g, v, v + w, w);
    for (int k = 0; k < kWindow / 2; ++k) {
      const int a = i + k, b = i + kWindow - 1 - k;
      add_cross(g[k], x.ptr<double>(a), y.ptr<double>(a), x.ptr<double>(b), y.ptr<double>(b), v + 2 * w, w);
    }
    const int c = i + kWindow / 2;
    add_cross(g[kWindow / 2], x.ptr<double>(c), y.ptr<double>(c), nullptr, nullptr, v + 2 * w, w);
    if (!cached) vertical_moments(x, i, g, v + 3 * w, v + 4 * w, w);
  };
  const auto sum_row = [&](int c, const double* m1, const double* v1, const double* h, double* scratch) {
    double* ssim_row = scratch;
    double* cs_row = scratch + ow;
    ssim_cs_row(m1, v1, h, h + ow, h + 2 * ow, ssim_row, cs_row, ow);
    double row_ssim = 0, row_cs = 0;
    for (int j = 0; j < ow; ++j) {
      row_ssim += ssim_row[j];
      row_cs += cs_row[j];
    }
    chunk_ssim[static_cast<std::size_t>(c)] += row_ssim;
    chunk_cs[static_cast<std::size_t>(c)] += row_cs;
  };
  if (cached) {
    filter_rows_valid<3>(x.cols, oh, ow, vertical,
                         [&](int c, int i, double* h) { sum_row(c, r.mu.ptr<double>(i), r.var.ptr<double>(i), h, h + 3 * ow); });
  } else {
    filter_rows_valid<5>(x.cols, oh, ow, vertical, [&](int c, int, double* h) {
      double* m1 = h + 3 * ow;
      double* v1 = h + 4 * ow;
      for (int j = 0; j < ow; ++j) v1[j] -= m1[j] * m1[j];
      sum_row(c, m1, v1, h, h + 5 * ow);
    });
  }
  double sum_ssim = 0, sum_cs = 0;
  for (int c = 0; c < kChunks; ++c) {
    sum_ssim += chunk_ssim[static_cast<std::size_t>(c)];
    sum_cs += chunk_cs[static_cast<std::size_t>(c)];
  }
  const double n = static_cast<double>(oh) * ow;
  return {sum_ssim / n, sum_cs / n};
}

int ssim_factor(const Image& img, const SsimOptions& o) {
  if (!o.downsample) return 1;
  return std::max(1, static_cast<int>(std::lround(std::min(img.width, img.height) / 256.0)));
}

std::vector<cv::Mat> ssim_planes(const Image& img, const SsimOptions& o) {
  std::vector<cv::Mat> planes = detail::metric_planes(img, o.colour);
  const int f = ssim_factor(img, o);
  if (f > 1) {
    for (cv::Mat& p : planes) p = detail::box_downsample(p, f);
  }
  return planes;
}

void check_ssim_size(const Image& img, const SsimOptions& o, std::string_view role) {
  const int f = ssim_factor(img, o);
  const int h = (img.height + f - 1) / f, w = (img.width + f - 1) / f;
  require(h >= kWindow && w >= kWindow, ErrorCode::invalid_argument,
          "ssim: " + std::string(role) + " image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
              (f > 1 ? " (" + std::to_string(w) + "x" + std::to_string(h) + " after downsampling by " + std::to_string(f) + ")" : "") +
              "; SSIM needs at least 11x11 pixels (its Gaussian window)");
}

double mean_over(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

std::vector<cv::Mat> pyramid(cv::Mat plane) {
  std::vector<cv::Mat> levels;
  for (int l = 0; l < kScales; ++l) {
    levels.push_back(plane);
    if (l + 1 < kScales) plane = detail::box_downsample(plane, 2);
  }
  return levels;
}

double ms_ssim_of(const std::vector<RefStats>& ref, const cv::Mat& plane) {
  const std::vector<cv::Mat> levels = pyramid(plane);
  double score = 1;
  for (int l = 0; l < kScales; ++l) {
    const SsimMeans m = ssim_means(ref[l], levels[l]);
    // msssim.m 'product': mcs(1..4)^w * mssim(5)^w5. A negative mean raised to a fractional power is
    // complex in MATLAB; it only happens for anti-correlated images.
    const double term = l + 1 < kScales ? m.cs : m.ssim;
    require(term >= 0, ErrorCode::numerical,
            "ms_ssim: the " + std::string(l + 1 < kScales ? "contrast-structure" : "SSIM") + " mean at scale " +
                std::to_string(l + 1) + " is negative (" + std::to_string(term) +
                "): the images are anti-correlated and MS-SSIM's product of powers is undefined");
    score *= std::pow(term, kMsWeights[l]);
  }
  return score;
}

}  // namespace

template <>
struct detail::FrHooks<SsimOptions> {
  static constexpr const char* name = "ssim";
  using Cache = std::vector<RefStats>;  // per plane
  static void check(const Image& img, const SsimOptions& o, std::string_view role) { check_ssim_size(img, o, role); }
  static Cache prepare(const Image& ref, const SsimOptions& o) {
    Cache planes;
    for (const cv::Mat& p : ssim_planes(ref, o)) planes.push_back(ref_stats(p));
    return planes;
  }
  static double score(const Cache& ref, const Image& dist, const SsimOptions& o) {
    const std::vector<cv::Mat> planes = ssim_planes(dist, o);
    std::vector<double> scores;
    for (std::size_t c = 0; c < planes.size(); ++c) scores.push_back(ssim_means(ref[c], planes[c]).ssim);
    return mean_over(scores);
  }
  // One pass over both images, no cached maps: the same sums.
  static double one_shot(const Image& ref, const Image& dist, const SsimOptions& o) {
    const std::vector<cv::Mat> x = ssim_planes(ref, o), y = ssim_planes(dist, o);
    std::vector<double> scores;
    for (std::size_t c = 0; c < x.size(); ++c) scores.push_back(ssim_means(RefStats{x[c], {}, {}}, y[c]).ssim);
    return mean_over(scores);
  }
};

template <>
struct detail::FrHooks<MsSsimOptions> {
  static constexpr const char* name = "ms_ssim";
  using Cache = std::vector<std::vector<RefStats>>;  // [plane][scale]
  static void check(const Image& img, const MsSsimOptions&, std::string_view role) {
    detail::check_image(name, role, img, kMsMinSide, kMsMinSide);
  }
  static Cache prepare(const Image& ref, const MsSsimOptions& o) {
    Cache planes;
    for (const cv::Mat& p : detail::metric_planes(ref, o.colour)) {
      std::vector<RefStats> scales;
      for (const cv::Mat& level : pyramid(p)) scales.push_back(ref_stats(level));
      planes.push_back(std::move(scales));
    }
    return planes;
  }
  static double score(const Cache& ref, const Image& dist, const MsSsimOptions& o) {
    const std::vector<cv::Mat> planes = detail::metric_planes(dist, o.colour);
    std::vector<double> scores;
    for (std::size_t c = 0; c < planes.size(); ++c) scores.push_back(ms_ssim_of(ref[c], planes[c]));
    return mean_over(scores);
  }
  static double one_shot(const Image& ref, const Image& dist, const MsSsimOptions& o) {
    const std::vector<cv::Mat> x = detail::metric_planes(ref, o.colour), y = detail::metric_planes(dist, o.colour);
    std::vector<double> scores;
    for (std::size_t c = 0; c < x.size(); ++c) {
      std::vector<RefStats> levels;
      for (const cv::Mat& level : pyramid(x[c])) levels.push_back(RefStats{level, {}, {}});  // uncached: one pass
      scores.push_back(ms_ssim_of(levels, y[c]));
    }
    return mean_over(scores);
  }
};

template class FullReferenceMetric<SsimOptions>;
template class FullReferenceMetric<MsSsimOptions>;

}  // namespace hawkeye
