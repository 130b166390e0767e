// Correlation statistics and the logistic fit, checked against SciPy 1.10.1 (Debian 12) values computed
// by hand with scipy.stats.{spearmanr, pearsonr, kendalltau} and scipy.optimize.curve_fit (pyiqa's
// logistic and start point) on the vectors written below.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/metrics/correlation.h"

using namespace hawkeye;

namespace {

const std::vector<double> kTiesPred = {1, 2, 2, 3, 4, 4, 4, 5, 6, 7};
const std::vector<double> kTiesMos = {1.5, 1.0, 2.5, 2.5, 4.0, 3.0, 5.0, 4.5, 4.5, 6.0};

// 40 points of a noisy logistic: x = linspace(0, 100, 40), y = 1 + 4 / (1 + exp(-(x - 50) / 10)) + 0.1 sin(i).
void logistic_data(std::vector<double>& x, std::vector<double>& y) {
  for (int i = 0; i < 40; ++i) {
    x.push_back(100.0 * i / 39.0);
    y.push_back(1 + 4 / (1 + std::exp(-(x.back() - 50) / 10)) + 0.1 * std::sin(i));
  }
}

}  // namespace

TEST(Correlation, TiesUseAverageRanksAndTauB) {
  // scipy: spearmanr 0.8947754370913888, pearsonr 0.9006756542686182, kendalltau (b) 0.7859370885787427,
  // sqrt(mean((p - m)^2)) 0.85146931829632.
  EXPECT_NEAR(srcc(kTiesPred, kTiesMos).value, 0.8947754370913888, 1e-14);
  EXPECT_NEAR(plcc(kTiesPred, kTiesMos).value, 0.9006756542686182, 1e-14);
  EXPECT_NEAR(krcc(kTiesPred, kTiesMos).value, 0.7859370885787427, 1e-14);
  EXPECT_NEAR(rmse(kTiesPred, kTiesMos).value, 0.85146931829632, 1e-14);
}

TEST(Correlation, NegativeCorrelation) {
  const std::vector<double> p = {10, 8, 7.5, 6, 3, 2.2, 1}, m = {1, 2, 2.5, 3.5, 4, 4.1, 5};
  // scipy: spearmanr -1.0, pearsonr -0.9726938346762893, kendalltau -1.0, rmse 4.911502534139338.
  EXPECT_NEAR(srcc(p, m).value, -1.0, 1e-15);
  EXPECT_NEAR(plcc(p, m).value, -0.9726938346762893, 1e-14);
  EXPECT_NEAR(krcc(p, m).value, -1.0, 1e-15);
  EXPECT_NEAR(rmse(p, m).value, 4.911502534139338, 1e-13);
  // The fitted mapping can follow a decreasing trend (b4 or b1 - b2 changes sign): never worse than raw.
  const CorrelationReport r = correlate(p, m);
  ASSERT_TRUE(r.plcc_fitted.defined()) << r.plcc_fitted.reason;
  EXPECT_GE(std::abs(r.plcc_fitted.value), std::abs(r.plcc.value) - 1e-12);
}

TEST(Correlation, ThreePairsAreEnoughForCorrelationsButNotForTheFit) {
  const std::vector<double> p = {1, 2, 3}, m = {2, 1, 3};
  // scipy: spearmanr 0.5, pearsonr 0.5, kendalltau 0.33333333333333337, rmse 0.816496580927726.
  EXPECT_NEAR(srcc(p, m).value, 0.5, 1e-15);
  EXPECT_NEAR(plcc(p, m).value, 0.5, 1e-15);
  EXPECT_NEAR(krcc(p, m).value, 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(rmse(p, m).value, 0.816496580927726, 1e-15);
  // curve_fit refuses 3 points for 4 parameters: no fitted statistics (null with the reason), never the raw
  // value under the fitted name (issue 19).
  const CorrelationReport r = correlate(p, m);
  EXPECT_FALSE(r.logistic.fitted);
  EXPECT_NE(r.logistic.reason.find("at least 4 pairs"), std::string::npos) << r.logistic.reason;
  EXPECT_FALSE(r.plcc_fitted.defined());
  EXPECT_FALSE(r.rmse_fitted.defined());
  EXPECT_NE(r.plcc_fitted.reason.find("logistic fit failed: "), std::string::npos) << r.plcc_fitted.reason;
  const ordered_json j = to_json(r);
  EXPECT_TRUE(j["plcc_fitted"].is_null());
  EXPECT_NE(j["reasons"]["plcc_fitted"].get<std::string>().find("at least 4 pairs"), std::string::npos);
}

TEST(Correlation, LogisticFitMatchesScipyCurveFit) {
  std::vector<double> x, y;
  logistic_data(x, y);
  // scipy curve_fit(p0=[max y, min y, mean x, std x / 4]): beta [5.000353488581256, 1.0126096580822979,
  // 50.0936291635378, 9.941589168872294], fitted PLCC 0.9989933141883746, fitted RMSE 0.07031100413139771;
  // raw: SRCC 0.9868667917448407, PLCC 0.9713003002531921, KRCC 0.9307692307692308.
  const CorrelationReport r = correlate(x, y);
  ASSERT_TRUE(r.logistic.fitted) << r.logistic.reason;
  const double want[] = {5.000353488581256, 1.0126096580822979, 50.0936291635378, 9.941589168872294};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(r.logistic.beta[i], want[i], 1e-6 * std::abs(want[i])) << "beta" << i + 1;
  EXPECT_NEAR(r.plcc_fitted.value, 0.9989933141883746, 1e-10);
  EXPECT_NEAR(r.rmse_fitted.value, 0.07031100413139771, 1e-8);
  EXPECT_NEAR(r.srcc.value, 0.9868667917448407, 1e-14);
  EXPECT_NEAR(r.plcc.value, 0.9713003002531921, 1e-14);
  EXPECT_NEAR(r.krcc.value, 0.9307692307692308, 1e-14);
  EXPECT_LE(r.logistic.iterations, 200);
}

TEST(Correlation, TiesLogisticFitMatchesScipy) {
  // scipy beta [5.7058879462673096, 0.7865005158194432, 3.476695966656736, 1.1652054509553764],
  // fitted PLCC 0.905760930042851, RMSE 0.6458439069112363.
  const CorrelationReport r = correlate(kTiesPred, kTiesMos);
  ASSERT_TRUE(r.logistic.fitted) << r.logistic.reason;
  EXPECT_NEAR(r.plcc_fitted.value, 0.905760930042851, 1e-8);
  EXPECT_NEAR(r.rmse_fitted.value, 0.6458439069112363, 1e-8);
  // The residual is flat along b3 here: SciPy stops (ftol 1.5e-8) within 1e-4 of the optimum.
  EXPECT_NEAR(r.logistic.beta[2], 3.476695966656736, 1e-4);
}

TEST(CorrelationDegenerate, GivesNaNWithAReasonNeverACrash) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> two = {1, 2}, two_m = {2, 3};
  EXPECT_FALSE(srcc(two, two_m).defined());
  EXPECT_NE(srcc(two, two_m).reason.find("at least 3 pairs, got 2"), std::string::npos);
  const std::vector<double> constant = {3, 3, 3, 3}, m = {1, 2, 3, 4};
  for (const Statistic& s : {srcc(constant, m), plcc(constant, m), krcc(constant, m)}) {
    EXPECT_FALSE(s.defined());
    EXPECT_NE(s.reason.find("predictions are all equal"), std::string::npos) << s.reason;
  }
  EXPECT_NE(plcc(m, constant).reason.find("scores are all equal"), std::string::npos);
  EXPECT_TRUE(rmse(constant, m).defined());  // RMSE is defined for constant predictions
  const std::vector<double> with_nan = {1, nan, 3, 4};
  for (const Statistic& s : {srcc(with_nan, m), plcc(with_nan, m), krcc(with_nan, m), rmse(with_nan, m)}) {
    EXPECT_FALSE(s.defined());
    EXPECT_NE(s.reason.find("prediction #2 is nan"), std::string::npos) << s.reason;
  }
  const std::vector<double> with_inf = {1, 2, 3, std::numeric_limits<double>::infinity()};
  EXPECT_NE(plcc(m, with_inf).reason.find("score #4"), std::string::npos);
  const std::vector<double> empty;
  EXPECT_FALSE(rmse(empty, empty).defined());
  const CorrelationReport r = correlate(constant, m);
  EXPECT_FALSE(r.logistic.fitted);
  EXPECT_FALSE(r.plcc_fitted.defined());
  const ordered_json j = to_json(r);
  EXPECT_TRUE(j["srcc"].is_null());
  EXPECT_NE(j["reasons"]["srcc"].get<std::string>().find("all equal"), std::string::npos);
}

TEST(CorrelationDegenerate, MismatchedLengthsAreAnError) {
  const std::vector<double> a = {1, 2, 3}, b = {1, 2};
  EXPECT_THROW(srcc(a, b), Error);
  EXPECT_THROW(correlate(a, b), Error);
}

TEST(CorrelationDegenerate, FitIterationsAreBounded) {
  std::vector<double> x, y;
  logistic_data(x, y);
  const LogisticFit fit = fit_logistic4(x, y, {/*max_iterations=*/1, 1e-10});
  EXPECT_FALSE(fit.fitted);
  EXPECT_EQ(fit.iterations, 1);
  EXPECT_NE(fit.reason.find("did not converge in 1 iterations"), std::string::npos) << fit.reason;
  EXPECT_EQ(fit.map(42.0), 42.0);  // raw
  // A step function: the logistic keeps sharpening; bounded, then it reports what it did.
  std::vector<double> sx, sy;
  for (int i = 0; i < 20; ++i) {
    sx.push_back(i);
    sy.push_back(i < 10 ? 1.0 : 5.0);
  }
  const LogisticFit step = fit_logistic4(sx, sy);
  EXPECT_LE(step.iterations, 200);
  if (step.fitted) {
    EXPECT_LT(step.sse, 1e-6);
  } else {
    EXPECT_FALSE(step.reason.empty());
  }
}

TEST(CorrelationBootstrap, IntervalsAreSeededAndContainTheEstimate) {
  std::vector<double> x, y;
  logistic_data(x, y);
  CorrelationOptions o;
  o.bootstrap = {200, 0.95, 7};
  const CorrelationReport a = correlate(x, y, o), b = correlate(x, y, o);
  EXPECT_EQ(a.srcc_ci.low, b.srcc_ci.low);
  EXPECT_EQ(a.plcc_fitted_ci.high, b.plcc_fitted_ci.high);
  EXPECT_LE(a.srcc_ci.low, a.srcc.value);
  EXPECT_GE(a.srcc_ci.high, a.srcc.value - 1e-9);
  EXPECT_LT(a.srcc_ci.low, a.srcc_ci.high);
  EXPECT_LE(a.plcc_fitted_ci.low, a.plcc_fitted.value);
  EXPECT_LE(a.krcc_ci.high, 1.0);
  o.bootstrap.seed = 8;
  EXPECT_NE(correlate(x, y, o).srcc_ci.low, a.srcc_ci.low);
  const ordered_json j = to_json(a);
  EXPECT_EQ(j["bootstrap"]["resamples"], 200);
  EXPECT_EQ(j["bootstrap"]["srcc"].size(), 2u);
  // Three pairs: most resamples are constant; the interval is NaN with the reason.
  const std::vector<double> p = {1, 2, 3}, m = {2, 1, 3};
  const CorrelationReport tiny = correlate(p, m, o);
  EXPECT_FALSE(tiny.srcc_ci.low == tiny.srcc_ci.low);
  EXPECT_NE(tiny.srcc_ci.reason.find("resamples"), std::string::npos);
}

TEST(Correlation, KendallHandlesLargeTiedInputsInNLogN) {
  // O(n log n): 200k pairs with many ties, checked against the O(n^2) definition on a prefix.
  std::vector<double> x, y;
  for (long long i = 0; i < 200000; ++i) {
    x.push_back(static_cast<double>((i * 7919) % 1000));
    y.push_back(static_cast<double>((i * 104729) % 997) + 0.001 * static_cast<double>((i * 7919) % 1000));
  }
  EXPECT_TRUE(krcc(x, y).defined());
  const std::size_t n = 600;
  double con_dis = 0, tx = 0, ty = 0, total = n * (n - 1) / 2.0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0) tx += 1;
      if (dy == 0) ty += 1;
      if (dx * dy > 0) con_dis += 1;
      if (dx * dy < 0) con_dis -= 1;
    }
  const double brute = con_dis / std::sqrt((total - tx) * (total - ty));
  EXPECT_NEAR(krcc(std::span(x).first(n), std::span(y).first(n)).value, brute, 1e-12);
}

// Issue 18 item 12: predictions near 1e300 gave plcc 0.0 and rmse null with no reason (the sums of squares
// overflowed). A correlation does not depend on the scale, and the RMSE of such errors is a finite number.
TEST(CorrelationDegenerate, HugeValuesDoNotOverflow) {
  const std::vector<double> mos = {1, 2, 3, 4, 5, 6};
  std::vector<double> huge, tiny;
  for (double m : mos) {
    huge.push_back(1e300 * m);
    tiny.push_back(-1e300 * m);
  }
  EXPECT_NEAR(plcc(huge, mos).value, 1.0, 1e-12);
  EXPECT_NEAR(plcc(tiny, mos).value, -1.0, 1e-12);
  EXPECT_NEAR(srcc(huge, mos).value, 1.0, 1e-12);
  const Statistic e = rmse(huge, mos);
  ASSERT_TRUE(e.defined()) << e.reason;
  // sqrt(mean((1e300 m)^2)) = 1e300 sqrt(91 / 6)
  EXPECT_NEAR(e.value / (1e300 * std::sqrt(91.0 / 6.0)), 1.0, 1e-12);
  // and ordinary values keep their exact statistic
  const std::vector<double> p = {1.5, 1.9, 3.2, 3.9, 5.5, 5.8};
  double sse = 0;
  for (std::size_t i = 0; i < p.size(); ++i) sse += (p[i] - mos[i]) * (p[i] - mos[i]);
  EXPECT_NEAR(rmse(p, mos).value, std::sqrt(sse / 6), 1e-15);
  const std::vector<double> extreme = {1.7e308, -1.7e308, 1.7e308, -1.7e308};
  const std::vector<double> small = {1, 2, 3, 4};
  EXPECT_TRUE(std::isfinite(plcc(extreme, small).value));
}
