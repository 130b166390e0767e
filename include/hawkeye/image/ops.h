// Generic image operations on hawkeye::Image (8-bit, interleaved): resizing, cropping, colour conversion.
// Every function returns a new image and leaves its input untouched; bad sizes throw Error(invalid_argument).
#pragma once
#include "hawkeye/image/image.h"

namespace hawkeye {

enum class Interpolation {
  nearest,        // OpenCV INTER_NEAREST (top-left aligned; what most libraries call "nearest")
  nearest_exact,  // pixel-centre aligned nearest neighbour, like MATLAB imresize 'nearest' and PIL NEAREST
  linear,
  cubic,
  area,           // box average when shrinking (the right choice for downscaling photographs)
  lanczos,
};

// Resizes to width x height (both >= 1).
Image resize(const Image& img, int width, int height, Interpolation interp = Interpolation::area);

// The rectangle [x, x+width) x [y, y+height), which must lie inside the image.
Image crop(const Image& img, int x, int y, int width, int height);

// The centred width x height window (must not be larger than the image).
Image center_crop(const Image& img, int width, int height);

// Scales the image so it covers width x height (keeping its aspect ratio; area interpolation when shrinking,
// cubic when enlarging), then crops the centre: the result is exactly width x height. An image that already
// has that size is returned unchanged.
Image resize_cover(const Image& img, int width, int height);

// Mirror images (left-right, top-bottom) and a quarter turn clockwise (a W x H image becomes H x W:
// pixel (x, y) lands at (H - 1 - y, x)). Exact pixel moves (1 or 3 channels, like the other operations).
Image flip_horizontal(const Image& img);
Image flip_vertical(const Image& img);
Image rotate_clockwise(const Image& img);

// Luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 weights, as OpenCV's RGB2GRAY), rounded; 1 channel.
Image rgb_to_grey(const Image& rgb);

// Replicates a 1-channel image into 3 channels; a 3-channel image is returned as is.
Image grey_to_rgb(const Image& grey);

// Mean absolute difference per sample between two images of the same size and channel count (0..255).
double mean_abs_difference(const Image& a, const Image& b);

}  // namespace hawkeye
