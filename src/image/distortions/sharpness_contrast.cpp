// KADID types 24-25: high sharpen (unsharp mask on Lab lightness) and contrast change (spline tone curve)
// (spec sections 3.24-3.25).
#include <opencv2/imgproc.hpp>

#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

void high_sharpen(cv::Mat& rgb, double amount, Rng&) {
  // MATLAB imsharpen(I, 'Radius', 3, 'Amount', a): L' = L + a (L - G*L), G a 13x13 Gaussian with sigma 3.
  cv::Mat lab = rgb_to_lab(rgb);
  std::vector<cv::Mat> ch;
  cv::split(lab, ch);
  cv::Mat blurred;
  cv::GaussianBlur(ch[0], blurred, cv::Size(13, 13), 3.0, 3.0, cv::BORDER_REPLICATE);
  ch[0] = (1.0 + amount) * ch[0] - amount * blurred;
  cv::merge(ch, lab);
  rgb = lab_to_rgb(lab);
  clip01(rgb);
}

void contrast_change(cv::Mat& rgb, double amount, Rng&) {
  // curves(I, [0.25 - c/4, 0.75 + c/4]): not-a-knot spline through (0,0), (0.3, .25 - c/4), (0.5, .5),
  // (0.7, .75 + c/4), (1,1), clipped. c = 0 is a mild S-curve, not the identity.
  const Spline curve({0.0, 0.3, 0.5, 0.7, 1.0}, {0.0, 0.25 - amount / 4.0, 0.5, 0.75 + amount / 4.0, 1.0});
  apply_tone_curve(rgb, curve);
}

}  // namespace hawkeye::kadid
