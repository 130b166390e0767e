// Private: the shape search of the asymmetric generalised Gaussian fit (AGGD) shared by BRISQUE and NIQE.
// Both reference implementations look the shape up on a grid of 0.2 .. 10 in steps of 0.001 where
// r(g) = Gamma(2/g)^2 / (Gamma(1/g) Gamma(3/g)) is closest to the sample's normalised moment ratio.
#pragma once

namespace hawkeye::detail {

// MATLAB (NIQE/BRISQUE releases): gam = 0.2:0.001:10; [~, k] = min((r(gam) - rhatnorm).^2); gam(k)
// (the first minimum). A NaN ratio gives gam(1) = 0.2, as MATLAB's min over all-NaN values does.
double aggd_shape_matlab(double rhatnorm);

// OpenCV's AGGDfit: for (gam = 0.2; gam < 10; gam += 0.001) stops at the first increase of
// |r(gam) - rhatnorm| and returns the previous gam (the last one when it never increases, e.g. NaN).
double aggd_shape_opencv(double rhatnorm);

}  // namespace hawkeye::detail
