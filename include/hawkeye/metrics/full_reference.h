// Full-reference metrics: PSNR, SSIM, MS-SSIM and GMSD, calibrated to their reference implementations.
//
// Every metric has two entry points, like OpenCV's quality module:
//   - a one-shot call: `ssim(ref, dist)` (or `Ssim::compute(ref, dist)`);
//   - an object that caches what depends on the reference alone, for many comparisons against one
//     reference: `Ssim s(ref); s.compute(dist_a); s.compute(dist_b);` (same results as the one-shot call).
//
// Colour: the SSIM family and GMSD work on MATLAB `rgb2gray` luma by default (0.298936 R + 0.587043 G +
// 0.114021 B, rounded to 8 bits exactly like rgb2gray on uint8 images), which is how the published MATLAB
// values were produced. PSNR pools all RGB samples by default (scikit-image's peak_signal_noise_ratio).
// A 1-channel image is its own luma. Reference and distorted image must have the same width, height and
// channel count; otherwise Error(invalid_argument) says which differs.
#pragma once
#include <memory>

#include "hawkeye/image/image.h"

namespace hawkeye {

// One full-reference metric with its options type: a one-shot static compute(ref, dist) and an object
// that caches the reference (its planes and whatever depends on them alone). Copies share the cache.
template <typename Options>
class FullReferenceMetric {
 public:
  explicit FullReferenceMetric(const Image& ref, const Options& options = {});
  double compute(const Image& dist) const;
  static double compute(const Image& ref, const Image& dist, const Options& options = {});

 private:
  struct State;
  std::shared_ptr<const State> state_;
};

enum class FrColour {
  luma,      // MATLAB rgb2gray luma, rounded to 8 bits (grey images: the grey plane)
  channels,  // every channel on its own: PSNR pools the squared errors of all samples; the other metrics
             // average their per-channel scores (scikit-image `channel_axis`, piq on RGB)
};

// ---- PSNR: peak signal-to-noise ratio, dB; 0 .. +inf, higher is better. Identical images give +inf.
struct PsnrOptions {
  FrColour colour = FrColour::channels;
  double data_range = 255.0;  // peak value
};
using Psnr = FullReferenceMetric<PsnrOptions>;


// ---- SSIM (Wang et al. 2004, the authors' MATLAB ssim.m): 11x11 Gaussian window sigma 1.5, K1 0.01,
// K2 0.03, L 255, mean of the SSIM map over the valid region (no padding). -1 .. 1 (0 .. 1 in practice),
// higher is better. Needs at least 11x11 pixels (after downsampling, if on).
struct SsimOptions {
  FrColour colour = FrColour::luma;
  // The authors' script first downsamples by f = max(1, round(min(h, w) / 256)) with an f x f box filter
  // (symmetric borders). Off by default, as in pyiqa's calibration values; on reproduces ssim.m (and piq).
  bool downsample = false;
};
using Ssim = FullReferenceMetric<SsimOptions>;


// ---- MS-SSIM (Wang, Simoncelli, Bovik 2003, the authors' msssim.m): 5 scales, weights 0.0448 0.2856
// 0.3001 0.2363 0.1333, 2x2 average downsampling (symmetric borders), contrast-structure at scales 1..4
// times SSIM at scale 5. 0 .. 1, higher is better. Needs min(h, w) >= 176 (11 pixels at the 5th scale).
struct MsSsimOptions {
  FrColour colour = FrColour::luma;
};
using MsSsim = FullReferenceMetric<MsSsimOptions>;


// ---- GMSD (Xue et al. 2014, the authors' GMSD.m): 2x2 average then downsample by 2, Prewitt gradients,
// T = 170, standard deviation (n - 1) of the gradient-magnitude similarity map. 0 .. ~0.5 (0 = identical),
// lower is better. Needs at least 4x4 pixels.
struct GmsdOptions {
  FrColour colour = FrColour::luma;
};
using Gmsd = FullReferenceMetric<GmsdOptions>;


extern template class FullReferenceMetric<PsnrOptions>;
extern template class FullReferenceMetric<SsimOptions>;
extern template class FullReferenceMetric<MsSsimOptions>;
extern template class FullReferenceMetric<GmsdOptions>;

// One-shot shorthands.

inline double psnr(const Image& ref, const Image& dist, const PsnrOptions& o = {}) { return Psnr::compute(ref, dist, o); }
inline double ssim(const Image& ref, const Image& dist, const SsimOptions& o = {}) { return Ssim::compute(ref, dist, o); }
inline double ms_ssim(const Image& ref, const Image& dist, const MsSsimOptions& o = {}) { return MsSsim::compute(ref, dist, o); }
inline double gmsd(const Image& ref, const Image& dist, const GmsdOptions& o = {}) { return Gmsd::compute(ref, dist, o); }

}  // namespace hawkeye
