#include "hawkeye/metrics/correlation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"

namespace hawkeye {

namespace {

using Span = std::span<const double>;

void check_lengths(const char* what, Span pred, Span mos) {
  require(pred.size() == mos.size(), ErrorCode::invalid_argument,
          std::string(what) + ": " + std::to_string(pred.size()) + " predictions but " + std::to_string(mos.size()) +
              " scores; they must pair up one to one");
}

// Why the pairs cannot give a statistic, or "" when they can.
std::string degenerate(Span pred, Span mos, std::size_t min_n) {
  if (pred.size() < min_n) {
    return "needs at least " + std::to_string(min_n) + " pairs, got " + std::to_string(pred.size());
  }
  for (std::size_t i = 0; i < pred.size(); ++i) {
    if (!std::isfinite(pred[i])) return "prediction #" + std::to_string(i + 1) + " is " + std::to_string(pred[i]);
    if (!std::isfinite(mos[i])) return "score #" + std::to_string(i + 1) + " is " + std::to_string(mos[i]);
  }
  return "";
}

bool is_constant(Span v) {
  return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
}

std::string constant_reason(Span pred, Span mos) {
  if (is_constant(pred)) return "the predictions are all equal: a correlation is undefined";
  if (is_constant(mos)) return "the scores are all equal: a correlation is undefined";
  return "";
}

Statistic undefined(std::string reason) { return {kNaN, std::move(reason)}; }

// Mean and deviations computed so that values near the largest doubles (1e300) neither overflow the sum nor
// the squares: each term is divided by n before summing, and the deviations by their largest magnitude
// (a correlation does not depend on the scale).
double mean_of(Span v) {
  const double n = static_cast<double>(v.size());
  double m = 0;
  for (double x : v) m += x / n;
  return m;
}

std::vector<double> scaled_deviations(Span v) {
  const double m = mean_of(v);
  std::vector<double> d(v.size());
  double scale = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    d[i] = v[i] / 2 - m / 2;  // halves: x - m itself can overflow when x = 1e308 and m = -1e308
    scale = std::max(scale, std::abs(d[i]));
  }
  if (scale > 0)
    for (double& x : d) x /= scale;
  return d;
}

double pearson_of(Span a, Span b) {
  const std::vector<double> da = scaled_deviations(a), db = scaled_deviations(b);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += da[i] * db[i];
    saa += da[i] * da[i];
    sbb += db[i] * db[i];
  }
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

// Ranks 1..n, ties get the average of the ranks they span (SciPy's rankdata 'average').
std::vector<double> average_ranks(Span v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

// Pairs tied in a sorted sequence: sum over runs of t (t - 1) / 2.
template <typename Equal>
std::uint64_t tied_pairs(std::size_t n, Equal equal) {
  std::uint64_t ties = 0, run = 1;
  for (std::size_t i = 1; i <= n; ++i) {
    if (i < n && equal(i - 1, i)) {
      ++run;
    } else {
      ties += run * (run - 1) / 2;
      run = 1;
    }
  }
  return ties;
}

// Sorts v ascending and returns the number of inversions (pairs i < j with v[i] > v[j]).
std::uint64_t count_inversions(std::vector<double>& v) {
  std::vector<double> buf(v.size());
  std::uint64_t swaps = 0;
  for (std::size_t width = 1; width < v.size(); width *= 2) {
    for (std::size_t lo = 0; lo < v.size(); lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, v.size()), hi = std::min(lo + 2 * width, v.size());
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (v[j] < v[i]) {
          swaps += mid - i;
          buf[k++] = v[j++];
        } else {
          buf[k++] = v[i++];
        }
      }
      while (i < mid) buf[k++] = v[i++];
      while (j < hi) buf[k++] = v[j++];
    }
    v.swap(buf);
  }
  return swaps;
}

double kendall_tau_b(Span x, Span y) {
  const std::size_t n = x.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]);
  });
  const std::uint64_t x_ties = tied_pairs(n, [&](std::size_t a, std::size_t b) { return x[order[a]] == x[order[b]]; });
  const std::uint64_t joint_ties = tied_pairs(n, [&](std::size_t a, std::size_t b) {
    return x[order[a]] == x[order[b]] && y[order[a]] == y[order[b]];
  });
  std::vector<double> ys(n);
  for (std::size_t i = 0; i < n; ++i) ys[i] = y[order[i]];
  const std::uint64_t discordant = count_inversions(ys);
  const std::uint64_t y_ties = tied_pairs(n, [&](std::size_t a, std::size_t b) { return ys[a] == ys[b]; });
  const double total = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0;
  const double con_minus_dis = total - static_cast<double>(x_ties) - static_cast<double>(y_ties) +
                               static_cast<double>(joint_ties) - 2.0 * static_cast<double>(discordant);
  const double denom = std::sqrt((total - static_cast<double>(x_ties)) * (total - static_cast<double>(y_ties)));
  return std::clamp(con_minus_dis / denom, -1.0, 1.0);
}

// ---- 4-parameter logistic
double logistic(const std::array<double, 4>& b, double x) {
  const double z = (x - b[2]) / std::abs(b[3]);
  // 1 / (1 + exp(-z)) without overflow for large |z|.
  const double l = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
  return (b[0] - b[1]) * l + b[1];
}

double sum_sq_residuals(const std::array<double, 4>& b, Span x, Span y) {
  double sse = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = y[i] - logistic(b, x[i]);
    sse += r * r;
  }
  return sse;
}

// Solves the 4x4 system a d = g by Gaussian elimination with partial pivoting; false when singular.
bool solve4(std::array<std::array<double, 4>, 4> a, std::array<double, 4> g, std::array<double, 4>& d) {
  for (int c = 0; c < 4; ++c) {
    int p = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    if (!(std::abs(a[p][c]) > 0) || !std::isfinite(a[p][c])) return false;
    std::swap(a[p], a[c]);
    std::swap(g[p], g[c]);
    for (int r = c + 1; r < 4; ++r) {
      const double f = a[r][c] / a[c][c];
      for (int k = c; k < 4; ++k) a[r][k] -= f * a[c][k];
      g[r] -= f * g[c];
    }
  }
  for (int c = 3; c >= 0; --c) {
    double s = g[c];
    for (int k = c + 1; k < 4; ++k) s -= a[c][k] * d[k];
    d[c] = s / a[c][c];
  }
  return std::all_of(d.begin(), d.end(), [](double v) { return std::isfinite(v); });
}

double percentile(const std::vector<double>& sorted, double q) {
  // Linear interpolation between order statistics (NumPy's default).
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

Interval percentile_interval(std::vector<double> values, double confidence) {
  const std::size_t total = values.size();
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
  const std::size_t undefined_count = total - values.size();
  Interval iv;
  if (undefined_count * 20 > total || values.empty()) {
    iv.reason = "the statistic is undefined in " + std::to_string(undefined_count) + " of " + std::to_string(total) +
                " resamples (more than 5%): too few or too tied pairs for a bootstrap interval";
    return iv;
  }
  std::sort(values.begin(), values.end());
  const double tail = (1.0 - confidence) / 2.0;
  iv.low = percentile(values, tail);
  iv.high = percentile(values, 1.0 - tail);
  if (undefined_count > 0) {
    iv.reason = std::to_string(undefined_count) + " of " + std::to_string(total) +
                " resamples had an undefined statistic and were left out";
  }
  return iv;
}

}  // namespace

// ------------------------------------------------------------------------------------------ statistics

Statistic srcc(Span pred, Span mos) {
  check_lengths("srcc", pred, mos);
  if (auto r = degenerate(pred, mos, 3); !r.empty()) return undefined("SRCC " + r);
  if (auto r = constant_reason(pred, mos); !r.empty()) return undefined("SRCC: " + r);
  const std::vector<double> rp = average_ranks(pred), rm = average_ranks(mos);
  return {pearson_of(rp, rm), ""};
}

Statistic plcc(Span pred, Span mos) {
  check_lengths("plcc", pred, mos);
  if (auto r = degenerate(pred, mos, 3); !r.empty()) return undefined("PLCC " + r);
  if (auto r = constant_reason(pred, mos); !r.empty()) return undefined("PLCC: " + r);
  return {pearson_of(pred, mos), ""};
}

Statistic krcc(Span pred, Span mos) {
  check_lengths("krcc", pred, mos);
  if (auto r = degenerate(pred, mos, 3); !r.empty()) return undefined("KRCC " + r);
  if (auto r = constant_reason(pred, mos); !r.empty()) return undefined("KRCC: " + r);
  return {kendall_tau_b(pred, mos), ""};
}

Statistic rmse(Span pred, Span mos) {
  check_lengths("rmse", pred, mos);
  if (auto r = degenerate(pred, mos, 1); !r.empty()) return undefined("RMSE " + r);
  // Scaled by the largest error, so that errors near 1e300 give a finite RMSE instead of an overflow.
  double scale = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) scale = std::max(scale, std::abs(pred[i] / 2 - mos[i] / 2));
  if (scale == 0) return {0.0, ""};
  double sse = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double e = (pred[i] / 2 - mos[i] / 2) / scale;
    sse += e * e;
  }
  const double value = 2 * scale * std::sqrt(sse / static_cast<double>(pred.size()));
  if (!std::isfinite(value)) return undefined("RMSE: the errors are too large for a double (near 1.8e308)");
  return {value, ""};
}

// ---------------------------------------------------------------------------------------- logistic fit

double LogisticFit::map(double x) const { return fitted ? logistic(beta, x) : x; }

std::vector<double> LogisticFit::map(Span xs) const {
  std::vector<double> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = map(xs[i]);
  return out;
}

LogisticFit fit_logistic4(Span x, Span y, const LogisticOptions& options) {
  check_lengths("fit_logistic4", x, y);
  require(options.max_iterations > 0 && options.tolerance >= 0, ErrorCode::invalid_argument,
          "fit_logistic4: max_iterations must be positive and tolerance non-negative");
  LogisticFit fit;
  auto fail = [&](const std::string& why) {
    fit.fitted = false;
    fit.reason = "no logistic fit (" + why + "); the raw predictions are used";
    return fit;
  };
  if (auto r = degenerate(x, y, 4); !r.empty()) return fail("it " + r + " for its 4 parameters");
  if (auto r = constant_reason(x, y); !r.empty()) return fail(r.substr(0, r.find(':')));

  const double n = static_cast<double>(x.size());
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double var_x = 0;
  for (double v : x) var_x += (v - mean_x) * (v - mean_x);
  std::array<double, 4> b = {*std::max_element(y.begin(), y.end()), *std::min_element(y.begin(), y.end()), mean_x,
                             std::sqrt(var_x / n) / 4.0};
  double sse = sum_sq_residuals(b, x, y);
  if (!std::isfinite(sse)) return fail("the starting point gives a non-finite residual");

  double lambda = 1e-3;
  bool converged = false;
  int it = 0;
  std::vector<std::array<double, 4>> jac(x.size());
  for (; it < options.max_iterations && !converged; ++it) {
    // Jacobian of f and the normal equations J'J d = J'r.
    std::array<std::array<double, 4>, 4> a{};
    std::array<double, 4> g{};
    const double s = std::abs(b[3]);
    const double sign4 = b[3] < 0 ? -1.0 : 1.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double z = (x[i] - b[2]) / s;
      const double l = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
      const double dl = (b[0] - b[1]) * l * (1.0 - l);
      const std::array<double, 4> j = {l, 1.0 - l, -dl / s, -dl * z / s * sign4};
      const double r = y[i] - ((b[0] - b[1]) * l + b[1]);
      for (int p = 0; p < 4; ++p) {
        g[p] += j[p] * r;
        for (int q = 0; q < 4; ++q) a[p][q] += j[p] * j[q];
      }
    }
    double max_diag = 0;
    for (int p = 0; p < 4; ++p) max_diag = std::max(max_diag, a[p][p]);
    // Marquardt's damping scaled by the diagonal; raise lambda until a step lowers the residual.
    bool stepped = false;
    while (lambda < 1e16) {
      auto m = a;
      for (int p = 0; p < 4; ++p) m[p][p] += lambda * std::max(a[p][p], 1e-12 * max_diag);
      std::array<double, 4> d{};
      if (solve4(m, g, d)) {
        std::array<double, 4> nb;
        for (int p = 0; p < 4; ++p) nb[p] = b[p] + d[p];
        const double nsse = sum_sq_residuals(nb, x, y);
        if (std::isfinite(nsse) && nsse < sse) {
          const double gain = (sse - nsse) / std::max(sse, 1e-300);
          double step = 0, size = 0;
          for (int p = 0; p < 4; ++p) {
            step += d[p] * d[p];
            size += nb[p] * nb[p];
          }
          b = nb;
          sse = nsse;
          lambda = std::max(lambda / 10.0, 1e-12);
          stepped = true;
          converged = gain < options.tolerance || std::sqrt(step) <= 1e-12 * (std::sqrt(size) + 1e-12);
          break;
        }
      }
      lambda *= 10.0;
    }
    if (!stepped) converged = true;  // no step lowers the residual: a (local) minimum
  }
  fit.beta = b;
  fit.sse = sse;
  fit.iterations = it;
  if (!converged) return fail("did not converge in " + std::to_string(options.max_iterations) + " iterations");
  if (!std::all_of(b.begin(), b.end(), [](double v) { return std::isfinite(v); }) || b[3] == 0) {
    return fail("the fit ran to non-finite or zero-width parameters");
  }
  fit.fitted = true;
  return fit;
}

// ------------------------------------------------------------------------------------------- report

CorrelationReport correlate(Span pred, Span mos, const CorrelationOptions& options) {
  check_lengths("correlate", pred, mos);
  require(options.bootstrap.resamples >= 0, ErrorCode::invalid_argument, "correlate: resamples must be >= 0");
  require(options.bootstrap.confidence > 0 && options.bootstrap.confidence < 1, ErrorCode::invalid_argument,
          "correlate: confidence must lie strictly between 0 and 1");
  CorrelationReport rep;
  rep.n = pred.size();
  rep.srcc = srcc(pred, mos);
  rep.krcc = krcc(pred, mos);
  rep.plcc = plcc(pred, mos);
  rep.rmse = rmse(pred, mos);
  rep.logistic = fit_logistic4(pred, mos, options.logistic);
  if (rep.logistic.fitted) {
    const std::vector<double> mapped = rep.logistic.map(pred);
    rep.plcc_fitted = plcc(mapped, mos);
    rep.rmse_fitted = rmse(mapped, mos);
  } else {
    // No fit, no fitted statistic: the raw value under the fitted name would pass for what it is not.
    rep.plcc_fitted = undefined("logistic fit failed: " + rep.logistic.reason);
    rep.rmse_fitted = undefined("logistic fit failed: " + rep.logistic.reason);
  }

  const BootstrapOptions& bo = options.bootstrap;
  if (bo.resamples > 0 && !pred.empty()) {
    rep.bootstrap_resamples = bo.resamples;
    rep.confidence = bo.confidence;
    std::vector<double> s_srcc, s_krcc, s_plcc, s_plcc_fit, s_rmse_fit;
    std::vector<double> bp(pred.size()), bm(pred.size());
    Rng rng(derive_seed(bo.seed, "correlate-bootstrap"));
    for (int r = 0; r < bo.resamples; ++r) {
      for (std::size_t i = 0; i < pred.size(); ++i) {
        const std::size_t k = rng.below(pred.size());
        bp[i] = pred[k];
        bm[i] = mos[k];
      }
      s_srcc.push_back(srcc(bp, bm).value);
      s_krcc.push_back(krcc(bp, bm).value);
      s_plcc.push_back(plcc(bp, bm).value);
      const LogisticFit f = fit_logistic4(bp, bm, options.logistic);
      const std::vector<double> m = f.map(bp);
      s_plcc_fit.push_back(f.fitted ? plcc(m, bm).value : kNaN);  // a failed fit is an undefined resample
      s_rmse_fit.push_back(f.fitted ? rmse(m, bm).value : kNaN);
    }
    rep.srcc_ci = percentile_interval(std::move(s_srcc), bo.confidence);
    rep.krcc_ci = percentile_interval(std::move(s_krcc), bo.confidence);
    rep.plcc_ci = percentile_interval(std::move(s_plcc), bo.confidence);
    rep.plcc_fitted_ci = percentile_interval(std::move(s_plcc_fit), bo.confidence);
    rep.rmse_fitted_ci = percentile_interval(std::move(s_rmse_fit), bo.confidence);
  }
  return rep;
}

ordered_json to_json(const CorrelationReport& r) {
  ordered_json j;
  j["n"] = r.n;
  const std::pair<const char*, const Statistic*> stats[] = {{"srcc", &r.srcc},   {"plcc", &r.plcc},
                                                            {"krcc", &r.krcc},   {"rmse", &r.rmse},
                                                            {"plcc_fitted", &r.plcc_fitted},
                                                            {"rmse_fitted", &r.rmse_fitted}};
  ordered_json reasons = ordered_json::object();
  for (const auto& [name, s] : stats) {
    j[name] = s->value;
    if (!s->reason.empty()) reasons[name] = s->reason;
  }
  j["logistic"] = {{"fitted", r.logistic.fitted},
                   {"beta", r.logistic.beta},
                   {"iterations", r.logistic.iterations},
                   {"sse", r.logistic.sse},
                   {"formula", "(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2"}};
  if (!r.logistic.reason.empty()) j["logistic"]["reason"] = r.logistic.reason;
  j["reasons"] = reasons;
  if (r.bootstrap_resamples > 0) {
    ordered_json b;
    b["resamples"] = r.bootstrap_resamples;
    b["confidence"] = r.confidence;
    const std::pair<const char*, const Interval*> ivs[] = {{"srcc", &r.srcc_ci},
                                                           {"plcc", &r.plcc_ci},
                                                           {"krcc", &r.krcc_ci},
                                                           {"plcc_fitted", &r.plcc_fitted_ci},
                                                           {"rmse_fitted", &r.rmse_fitted_ci}};
    for (const auto& [name, iv] : ivs) {
      b[name] = {iv->low, iv->high};
      if (!iv->reason.empty()) b[std::string(name) + "_note"] = iv->reason;
    }
    j["bootstrap"] = b;
  }
  return sanitize_json(j);
}

}  // namespace hawkeye
