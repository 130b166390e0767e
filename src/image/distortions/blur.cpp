// KADID types 01-03: Gaussian, lens (disc) and motion blur (spec sections 3.01-3.03).
#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "image/distortions/kadid_ops.h"

namespace hawkeye::kadid {

void gaussian_blur(cv::Mat& rgb, double sigma, Rng&) {
  const int k = gaussian_kernel_size(sigma);
  cv::GaussianBlur(rgb, rgb, cv::Size(k, k), sigma, sigma, cv::BORDER_REPLICATE);
}

cv::Mat disk_kernel(int radius) {
  // MATLAB fspecial('disk'): pixels fully inside the disc weigh 1, the centre weighs min(pi r^2, pi/2, 1), and
  // boundary pixels weigh the area under the circle arc computed from the pixel's corners (the formula below
  // is MATLAB's, which is close to, but not exactly, the true covered area). The correction branch of
  // fspecial only applies to non-integer radii, which KADID does not use.
  const double rad = radius, r2 = rad * rad;
  const int crad = static_cast<int>(std::ceil(rad - 0.5));
  const int size = 2 * crad + 1;
  cv::Mat k(size, size, CV_64F, cv::Scalar(0));
  for (int yi = 0; yi < size; ++yi) {
    for (int xi = 0; xi < size; ++xi) {
      const double ax = std::abs(xi - crad), ay = std::abs(yi - crad);
      const double maxxy = std::max(ax, ay), minxy = std::min(ax, ay);
      const double m1 = r2 < (maxxy + 0.5) * (maxxy + 0.5) + (minxy - 0.5) * (minxy - 0.5)
                            ? minxy - 0.5
                            : std::sqrt(std::max(0.0, r2 - (maxxy + 0.5) * (maxxy + 0.5)));
      const double m2 = r2 > (maxxy - 0.5) * (maxxy - 0.5) + (minxy + 0.5) * (minxy + 0.5)
                            ? minxy + 0.5
                            : std::sqrt(std::max(0.0, r2 - (maxxy - 0.5) * (maxxy - 0.5)));
      const bool boundary =
          (r2 < (maxxy + 0.5) * (maxxy + 0.5) + (minxy + 0.5) * (minxy + 0.5) &&
           r2 > (maxxy - 0.5) * (maxxy - 0.5) + (minxy - 0.5) * (minxy - 0.5)) ||
          (minxy == 0 && maxxy - 0.5 < rad && maxxy + 0.5 >= rad);
      double w = 0.0;
      if (boundary) {
        const double a2 = std::asin(std::clamp(m2 / rad, -1.0, 1.0)), a1 = std::asin(std::clamp(m1 / rad, -1.0, 1.0));
        w = r2 * (0.5 * (a2 - a1) + 0.25 * (std::sin(2 * a2) - std::sin(2 * a1))) - (maxxy - 0.5) * (m2 - m1) +
            (m1 - minxy + 0.5);
      }
      if ((maxxy + 0.5) * (maxxy + 0.5) + (minxy + 0.5) * (minxy + 0.5) < r2) w += 1.0;
      k.at<double>(yi, xi) = w;
    }
  }
  k.at<double>(crad, crad) = std::min({M_PI * r2, M_PI / 2, 1.0});
  k /= cv::sum(k)[0];
  return k;
}

void lens_blur(cv::Mat& rgb, double radius, Rng&) {
  const cv::Mat k = disk_kernel(static_cast<int>(std::lround(radius)));
  cv::filter2D(rgb, rgb, -1, k, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
}

cv::Mat motion_kernel(double length, double theta_deg) {
  // MATLAB fspecial('motion', len, theta): distance of each pixel of one quadrant to the line segment,
  // turned into a 1-pixel-wide anti-aliased line, mirrored into the full kernel and normalised.
  const double eps = std::numeric_limits<double>::epsilon();
  const double len = std::max(1.0, length);
  const double half = (len - 1.0) / 2.0;
  const double phi = std::fmod(theta_deg, 180.0) / 180.0 * M_PI;
  const double cosphi = std::cos(phi), sinphi = std::sin(phi);
  const int xsign = cosphi >= 0 ? 1 : -1;  // MATLAB sign(); cos(phi) is never exactly 0 in floating point
  const double linewdt = 1.0;
  const double tiny = std::sqrt(eps);
  const int sx = static_cast<int>(std::trunc(half * cosphi + linewdt * xsign - len * tiny));
  const int sy = static_cast<int>(std::trunc(half * sinphi + linewdt - len * tiny));
  const int nx = std::abs(sx) + 1, ny = sy + 1;
  cv::Mat d(ny, nx, CV_64F);
  for (int r = 0; r < ny; ++r) {
    for (int c = 0; c < nx; ++c) {
      const double x = static_cast<double>(c) * xsign, y = r;
      double dist = y * cosphi - x * sinphi;
      const double rad = std::sqrt(x * x + y * y);
      if (rad >= half && std::abs(dist) <= linewdt) {
        const double x2last = half - std::abs((x + dist * sinphi) / cosphi);
        dist = std::sqrt(dist * dist + x2last * x2last);
      }
      d.at<double>(r, c) = std::max(0.0, linewdt + tiny - std::abs(dist));
    }
  }
  // h = rot90(d, 2), then d is written into the lower-right corner of a (2ny-1) x (2nx-1) kernel.
  cv::Mat h(2 * ny - 1, 2 * nx - 1, CV_64F, cv::Scalar(0));
  for (int r = 0; r < ny; ++r)
    for (int c = 0; c < nx; ++c) h.at<double>(r, c) = d.at<double>(ny - 1 - r, nx - 1 - c);
  for (int r = 0; r < ny; ++r)
    for (int c = 0; c < nx; ++c) h.at<double>(ny - 1 + r, nx - 1 + c) = d.at<double>(r, c);
  h /= cv::sum(h)[0] + tiny * len * len;
  if (cosphi > 0) cv::flip(h, h, 0);
  return h;
}

void motion_blur(cv::Mat& rgb, double length, Rng& rng) {
  // The angle is not part of the level: an integer in 0..180 drawn once per image (spec 3.03).
  const double theta = static_cast<double>(rng.below(181));
  const cv::Mat k = motion_kernel(length, theta);
  cv::filter2D(rgb, rgb, -1, k, cv::Point(-1, -1), 0, cv::BORDER_REPLICATE);
}

}  // namespace hawkeye::kadid
