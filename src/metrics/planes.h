// Private helpers of the metrics layer: image planes as double matrices (MATLAB's `double(img)`), MATLAB
// rgb2gray luma, input checks and the filters the reference implementations use.
#pragma once
#include <opencv2/core.hpp>
#include <string_view>
#include <vector>

#include "hawkeye/image/image.h"
#include "hawkeye/metrics/full_reference.h"

namespace hawkeye::detail {

// MATLAB rgb2gray on uint8: round(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B), the
// coefficients of MATLAB's rgb2gray.m. A 1-channel image is returned as is. CV_64F.
cv::Mat luma_plane(const Image& img);

// MATLAB rgb2gray luma as an 8-bit plane (CV_8U).
cv::Mat luma_plane_u8(const Image& img);

// One CV_64F plane per channel.
std::vector<cv::Mat> channel_planes(const Image& img);

// The planes a full-reference metric works on: {luma} or one per channel.
std::vector<cv::Mat> metric_planes(const Image& img, FrColour colour);

// Throws Error(invalid_argument) unless img is a non-empty 1- or 3-channel image of at least
// min_width x min_height pixels whose pixel buffer matches its size. `role` is "reference", "image", ...
void check_image(std::string_view metric, std::string_view role, const Image& img, int min_width, int min_height);

struct ImageShape {
  int width = 0, height = 0, channels = 0;
};
inline ImageShape shape_of(const Image& img) { return {img.width, img.height, img.channels}; }

// dist is valid and has the reference's width, height and channel count.
void check_same_shape(std::string_view metric, const ImageShape& ref, const Image& dist, int min_width, int min_height);

// Both images valid and of the same width, height and channel count.
void check_pair(std::string_view metric, const Image& ref, const Image& dist, int min_width, int min_height);

// A normalised 1-D Gaussian (MATLAB fspecial('gaussian', size, sigma) is its outer product).
cv::Mat gaussian_kernel(int size, double sigma);


}  // namespace hawkeye::detail

namespace hawkeye::detail {

// MATLAB `imfilter(img, ones(f)/f^2, 'symmetric', 'same')` followed by img(1:f:end, 1:f:end): an f x f
// box average sampled every f pixels (ssim.m's downsampling, msssim.m's pyramid).
cv::Mat box_downsample(const cv::Mat& src, int f);

}  // namespace hawkeye::detail
