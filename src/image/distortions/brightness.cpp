// KADID types 16-18: brighten, darken, mean shift (spec sections 3.16-3.18).
#include <opencv2/imgproc.hpp>

#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

void brighten(cv::Mat& rgb, double amount, Rng&) {
  // Two tone-mapped versions averaged 2:1: the curve on every RGB channel, and the curve on Lab lightness.
  const double c = 0.5 + amount / 2.0;
  cv::Mat j1 = rgb.clone();
  apply_parabola_curve(j1, c);
  cv::Mat lab = rgb_to_lab(rgb);
  std::vector<cv::Mat> ch;
  cv::split(lab, ch);
  ch[0] /= 100.0;
  apply_parabola_curve(ch[0], c);
  ch[0] *= 100.0;
  cv::merge(ch, lab);
  cv::Mat j2 = lab_to_rgb(lab);
  clip01(j2);
  rgb = (2.0 * j1 + j2) / 3.0;
}

void darken(cv::Mat& rgb, double amount, Rng&) {
  // Both ports apply the curve to RGB only (the Lab branch of one port is off by default).
  apply_parabola_curve(rgb, 0.5 - amount / 2.0);
}

void mean_shift(cv::Mat& rgb, double offset, Rng&) {
  rgb += cv::Scalar::all(offset);
  clip01(rgb);
}

}  // namespace hawkeye::kadid
