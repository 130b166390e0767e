// Private: the 25 KADID-10k distortion functions and their shared building blocks.
// Every function works in place on an RGB CV_32FC3 image in [0, 1] (the generator's min-max and the 8-bit
// conversion happen around them, in registry.cpp). The exact operations and parameters follow
// docs/distortions.md, "the spec" below (section numbers quoted per function).
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "hawkeye/core/random.h"

namespace hawkeye::kadid {

using DistortFn = void (*)(cv::Mat& rgb, double param, Rng& rng);

// ---- blur.cpp (types 01-03) ----
void gaussian_blur(cv::Mat& rgb, double sigma, Rng& rng);
void lens_blur(cv::Mat& rgb, double radius, Rng& rng);
void motion_blur(cv::Mat& rgb, double length, Rng& rng);
// MATLAB fspecial('disk', r) for integer r: pixel weights = area covered by the disc, normalised (CV_64F).
cv::Mat disk_kernel(int radius);
// MATLAB fspecial('motion', len, theta): an anti-aliased line of len pixels at theta degrees (CV_64F).
cv::Mat motion_kernel(double length, double theta_deg);

// ---- color.cpp (types 04-08) ----
void color_diffusion(cv::Mat& rgb, double amount, Rng& rng);
void color_shift(cv::Mat& rgb, double amount, Rng& rng);
void color_quantization(cv::Mat& rgb, double colours, Rng& rng);
void color_saturation_hsv(cv::Mat& rgb, double factor, Rng& rng);
void color_saturation_lab(cv::Mat& rgb, double factor, Rng& rng);
// Minimum-variance (Wu) palette of at most n colours for an RGB float image in [0, 1].
std::vector<cv::Vec3f> minimum_variance_palette(const cv::Mat& rgb, int n);

// ---- compression.cpp (types 09-10) ----
void jpeg2000(cv::Mat& rgb, double ratio, Rng& rng);  // OpenCV's writer: reversible 5/3, ratio as jpeg2000_x1000
// libopenjp2: the irreversible 9/7 wavelet at the exact ratio (MATLAB imwrite's lossy mode).
void jpeg2000_97(cv::Mat& rgb, double ratio, Rng& rng);
// The size of the 9/7 codestream jpeg2000_97 makes of rgb (CV_32FC3 in [0, 1]) at `ratio`, for tests.
std::size_t jpeg2000_97_coded_bytes(const cv::Mat& rgb, double ratio);
void jpeg(cv::Mat& rgb, double quality, Rng& rng);
// The OpenCV JPEG 2000 rate parameter (IMWRITE_JPEG2000_COMPRESSION_X1000, an integer) used for a ratio.
int jpeg2000_x1000(double ratio);

// ---- noise.cpp (types 11-15) ----
void white_noise(cv::Mat& rgb, double variance, Rng& rng);
void white_noise_color_component(cv::Mat& rgb, double variance, Rng& rng);
void impulse_noise(cv::Mat& rgb, double density, Rng& rng);
void multiplicative_noise(cv::Mat& rgb, double variance, Rng& rng);
void denoise_substitute(cv::Mat& rgb, double variance, Rng& rng);

// ---- brightness.cpp (types 16-18) ----
void brighten(cv::Mat& rgb, double amount, Rng& rng);
void darken(cv::Mat& rgb, double amount, Rng& rng);
void mean_shift(cv::Mat& rgb, double offset, Rng& rng);

// ---- spatial.cpp (types 19-23) ----
void jitter(cv::Mat& rgb, double amount, Rng& rng);
void non_eccentricity_patch(cv::Mat& rgb, double patches, Rng& rng);
void pixelate(cv::Mat& rgb, double strength, Rng& rng);
void quantization(cv::Mat& rgb, double thresholds, Rng& rng);
void color_block(cv::Mat& rgb, double blocks, Rng& rng);
// Multi-level Otsu on a 256-bin histogram: the last bin of each of the first n classes (n thresholds),
// exact (dynamic programming), ascending.
std::vector<int> multi_otsu_thresholds(const std::vector<double>& histogram, int n);

// ---- sharpness_contrast.cpp (types 24-25) ----
void high_sharpen(cv::Mat& rgb, double amount, Rng& rng);
void contrast_change(cv::Mat& rgb, double amount, Rng& rng);

// ---- tone.cpp: shared helpers ----
// MATLAB spline (not-a-knot; a parabola for 3 knots) through the points, evaluated at x.
class Spline {
 public:
  Spline(std::vector<double> x, std::vector<double> y);
  double operator()(double x) const;

 private:
  std::vector<double> x_, y_, s_;  // knots, values, slopes
};
// "curves(x, c)" of the KADID code: the spline through (0,0), (0.5,c), (1,1), clipped to [0,1].
double brightness_curve(double x, double c);
// Applies f elementwise through a 4097-entry table with linear interpolation (inputs clamped to [0, 1]).
void apply_tone_curve(cv::Mat& m, const Spline& f);
void apply_parabola_curve(cv::Mat& m, double c);

// Colour spaces (float, [0, 1] RGB in and out).
cv::Mat rgb_to_lab(const cv::Mat& rgb);  // L in [0, 100]
cv::Mat lab_to_rgb(const cv::Mat& lab);  // clipped to [0, 1] by OpenCV
cv::Mat rgb_to_ycbcr_studio(const cv::Mat& rgb);  // MATLAB rgb2ycbcr for doubles (BT.601 studio range)
cv::Mat ycbcr_studio_to_rgb(const cv::Mat& ycc);
cv::Mat rgb_to_grey_matlab(const cv::Mat& rgb);   // 0.2989 R + 0.5870 G + 0.1140 B

void clip01(cv::Mat& m);
// Odd kernel size 2*ceil(2*sigma)+1 used by the KADID code for Gaussian filters.
int gaussian_kernel_size(double sigma);
// Fills m (CV_32F, any channels) with N(0, sigma^2) / U[0, 1) draws from rng, in memory order.
void fill_normal(cv::Mat& m, double sigma, Rng& rng);
void fill_uniform(cv::Mat& m, Rng& rng);
// Float image <-> 8-bit (rounded) for the codec types.
cv::Mat to_u8(const cv::Mat& rgb);
cv::Mat from_u8(const cv::Mat& rgb8);

}  // namespace hawkeye::kadid
