// Private: zero-copy views between hawkeye::Image and cv::Mat (OpenCV stays out of public headers).
#pragma once
#include <opencv2/core.hpp>

#include "hawkeye/image/image.h"

namespace hawkeye {

// A cv::Mat header over the image's pixels (no copy; valid while the image lives and is not resized).
inline cv::Mat as_mat(Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data());
}
inline cv::Mat as_mat(const Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), const_cast<std::uint8_t*>(img.pixels.data()));
}

// Copies an 8-bit cv::Mat (1 or 3 channels, any stride) into an Image of the same channel order.
inline Image from_mat(const cv::Mat& m) {
  CV_Assert(m.depth() == CV_8U);
  Image img(m.cols, m.rows, m.channels());
  cv::Mat dst = as_mat(img);
  m.copyTo(dst);
  return img;
}

}  // namespace hawkeye
