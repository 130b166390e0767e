// Correlation statistics used to judge IQA models against human opinion scores (MOS), as in IQA papers
// and pyiqa/SciPy: SRCC (Spearman, average ranks for ties), PLCC (Pearson), KRCC (Kendall tau-b), RMSE,
// and the 4-parameter logistic mapping fitted before PLCC/RMSE (VQEG):
//
//     f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2,   start [max mos, min mos, mean x, std x / 4]
//
// fitted by Levenberg-Marquardt with a bounded number of iterations.
//
// Degenerate input never throws and never crashes: a statistic that is undefined (fewer than 3 pairs,
// constant predictions or scores, a NaN or infinite value) is NaN with a reason a user can act on.
// Vectors of different lengths are a programming error: Error(invalid_argument).
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "hawkeye/core/writers.h"

namespace hawkeye {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A statistic that may be undefined.
struct Statistic {
  double value = kNaN;
  std::string reason;  // why value is NaN; empty when it is defined
  bool defined() const { return value == value; }
};

Statistic srcc(std::span<const double> pred, std::span<const double> mos);  // -1 .. 1
Statistic plcc(std::span<const double> pred, std::span<const double> mos);  // -1 .. 1
Statistic krcc(std::span<const double> pred, std::span<const double> mos);  // tau-b, -1 .. 1, O(n log n)
Statistic rmse(std::span<const double> pred, std::span<const double> mos);  // >= 0, in MOS units; n >= 1

struct LogisticOptions {
  int max_iterations = 1000;        // Levenberg-Marquardt iterations (SciPy curve_fit: 200 × (4 + 1) evaluations)
  // Stop when a step lowers the residual sum of squares by less than this (relative): SciPy's curve_fit /
  // MINPACK default ftol. A tighter value leaves nearly linear data (where the best logistic creeps along a
  // valley towards a straight line) without a fit after max_iterations, as measured on hawkeye-tiny's
  // 1,800 test predictions.
  double tolerance = 1.49012e-8;
};

struct LogisticFit {
  std::array<double, 4> beta{kNaN, kNaN, kNaN, kNaN};  // b1..b4 (b4 may be negative; |b4| is used)
  bool fitted = false;  // false: no usable fit; map() returns the raw predictions and reason says why
  int iterations = 0;
  double sse = kNaN;    // residual sum of squares at beta
  std::string reason;
  double map(double x) const;  // f(x), or x itself when !fitted
  std::vector<double> map(std::span<const double> xs) const;
};

LogisticFit fit_logistic4(std::span<const double> pred, std::span<const double> mos, const LogisticOptions& options = {});

// Percentile bootstrap over pairs (resampled with replacement). resamples = 0 turns it off.
struct BootstrapOptions {
  int resamples = 0;
  double confidence = 0.95;
  std::uint64_t seed = 0;  // the same seed gives the same intervals
};

struct Interval {
  double low = kNaN;
  double high = kNaN;
  std::string reason;  // why it is NaN (e.g. too many resamples with an undefined statistic)
};

struct CorrelationOptions {
  LogisticOptions logistic;
  BootstrapOptions bootstrap;
};

struct CorrelationReport {
  std::size_t n = 0;
  Statistic srcc, krcc;
  Statistic plcc, rmse;                // on the raw predictions
  Statistic plcc_fitted, rmse_fitted;  // after the logistic mapping (raw again when the fit failed)
  LogisticFit logistic;
  int bootstrap_resamples = 0;  // 0: no intervals below
  double confidence = 0.0;
  Interval srcc_ci, krcc_ci, plcc_ci, plcc_fitted_ci, rmse_fitted_ci;
};

CorrelationReport correlate(std::span<const double> pred, std::span<const double> mos,
                            const CorrelationOptions& options = {});

// {"n", "srcc", "plcc", "krcc", "rmse", "plcc_fitted", "rmse_fitted", "logistic": {...}, "reasons": {...},
// "bootstrap": {...}}; undefined values are null with their reason under "reasons".
ordered_json to_json(const CorrelationReport& report);

}  // namespace hawkeye
