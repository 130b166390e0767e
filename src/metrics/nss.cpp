#include "metrics/nss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "hawkeye/core/error.h"

namespace hawkeye::detail {

namespace {

double ratio(double g) { return std::tgamma(2 / g) * std::tgamma(2 / g) / (std::tgamma(1 / g) * std::tgamma(3 / g)); }

// The grid and r on it, built once per process (read-only afterwards). r increases with g; the lookups
// below rely on it and the constructor checks it.
struct Grid {
  std::vector<double> gam, r;
  explicit Grid(bool accumulate) {
    if (accumulate) {
      for (double g = 0.2; g < 10; g += 0.001) gam.push_back(g);  // OpenCV's loop, rounding included
    } else {
      for (int k = 0; k <= 9800; ++k) gam.push_back(0.2 + 0.001 * k);
    }
    for (double g : gam) r.push_back(ratio(g));
    for (std::size_t k = 1; k < r.size(); ++k) {
      if (!(r[k] > r[k - 1])) throw Error(ErrorCode::internal, "AGGD shape table is not increasing");
    }
  }
  // First k with r[k] >= x (r.size() when none).
  std::size_t crossing(double x) const { return static_cast<std::size_t>(std::lower_bound(r.begin(), r.end(), x) - r.begin()); }
};

const Grid& matlab_grid() {
  static const Grid g(false);
  return g;
}

const Grid& opencv_grid() {
  static const Grid g(true);
  return g;
}

}  // namespace

double aggd_shape_matlab(double x) {
  const Grid& g = matlab_grid();
  if (std::isnan(x)) return g.gam.front();
  const std::size_t k = g.crossing(x);
  if (k == 0) return g.gam.front();
  if (k == g.r.size()) return g.gam.back();
  const double below = (x - g.r[k - 1]) * (x - g.r[k - 1]), above = (g.r[k] - x) * (g.r[k] - x);
  return above < below ? g.gam[k] : g.gam[k - 1];  // ties: the first index, like MATLAB's min
}

double aggd_shape_opencv(double x) {
  const Grid& g = opencv_grid();
  if (std::isnan(x)) return g.gam.back();
  const std::size_t k = g.crossing(x);
  if (k == 0) return g.gam.front();
  if (k == g.r.size()) return g.gam.back();
  // The scan passes k - 1, then keeps k unless |r[k] - x| > |r[k-1] - x|, then stops at k + 1.
  return std::abs(g.r[k] - x) > std::abs(g.r[k - 1] - x) ? g.gam[k - 1] : g.gam[k];
}

}  // namespace hawkeye::detail
