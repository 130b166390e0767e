// Geometric image operations: mirrors and the quarter turn move pixels exactly.
#include <gtest/gtest.h>

#include "hawkeye/core/error.h"
#include "hawkeye/image/ops.h"

namespace hawkeye {
namespace {

// 3 x 2 RGB: R = x, G = y, B = 9.
Image coordinates() {
  Image im(3, 2, 3, 9);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      im.at(x, y, 0) = static_cast<std::uint8_t>(x);
      im.at(x, y, 1) = static_cast<std::uint8_t>(y);
    }
  return im;
}

TEST(ImageOps, MirrorsAndQuarterTurnMovePixelsExactly) {
  const Image in = coordinates();
  const Image h = flip_horizontal(in), v = flip_vertical(in), r = rotate_clockwise(in);
  ASSERT_EQ(h.width, 3);
  ASSERT_EQ(v.height, 2);
  ASSERT_EQ(r.width, 2);
  ASSERT_EQ(r.height, 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(h.at(2 - x, y, c), in.at(x, y, c));
        EXPECT_EQ(v.at(x, 1 - y, c), in.at(x, y, c));
        EXPECT_EQ(r.at(1 - y, x, c), in.at(x, y, c));  // clockwise: (x, y) -> (H - 1 - y, x)
      }
  EXPECT_EQ(flip_horizontal(h), in);
  EXPECT_EQ(rotate_clockwise(rotate_clockwise(rotate_clockwise(r))), in);
  EXPECT_THROW(rotate_clockwise(Image{}), Error);
}

}  // namespace
}  // namespace hawkeye
