// Helpers of the metrics tests: fixture images (tests/fixtures/) and the comparison of a value with a published one.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hawkeye/image/io.h"
#include "test_util.h"

namespace hawkeye::test {

inline Image fixture_image(const std::string& relative) { return load_image(fixtures() / relative); }

// |got - want| <= rel_tol * |want| + abs_tol, with the relative error in the failure message.
inline ::testing::AssertionResult near_reference(double got, double want, double rel_tol, double abs_tol = 0.0) {
  const double err = std::abs(got - want);
  if (std::isfinite(got) && err <= rel_tol * std::abs(want) + abs_tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (relative error "
                                       << err / std::abs(want) << ", tolerance " << rel_tol << " rel + " << abs_tol
                                       << " abs)";
}

// A deterministic textured test image (no fixture files): smooth gradients plus a fine checker pattern.
inline Image synthetic_image(int width, int height, int channels, int seed = 0) {
  Image img(width, height, channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const int v = (x * 3 + y * 2 + c * 50 + seed * 17) % 200 + (((x / 3 + y / 2 + seed) % 2) ? 40 : 0);
        img.at(x, y, c) = static_cast<std::uint8_t>(v);
      }
  return img;
}

}  // namespace hawkeye::test
