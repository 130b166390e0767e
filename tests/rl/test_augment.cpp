// Training-time augmentation: crops, flips and quarter turns, shared by an image and its twin.
#include <gtest/gtest.h>

#include "hawkeye/rl/dataset.h"

namespace hawkeye::rl {
namespace {

// Every pixel names its own position: R = x, G = y, B = `tag`.
Image coordinate_image(int w, int h, std::uint8_t tag) {
  Image im(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      im.at(x, y, 0) = static_cast<std::uint8_t>(x);
      im.at(x, y, 1) = static_cast<std::uint8_t>(y);
      im.at(x, y, 2) = tag;
    }
  return im;
}

struct Seen {
  int x0 = -1, y0 = -1;
  bool vflip = false, turned = false;
};

// Undoes a quarter turn and a vertical flip of a crop of a coordinate image; fails the test unless `out` is
// exactly such a transform of a cw x ch crop.
Seen decode(const Image& out, int cw, int ch) {
  Seen s;
  s.turned = out.width == ch && out.height == cw;
  EXPECT_TRUE(s.turned || (out.width == cw && out.height == ch));
  // Back to the unturned w x h frame: output (u, v) of a clockwise turn came from input (v, h - 1 - u).
  auto source = [&](int x, int y, int c) { return s.turned ? out.at(ch - 1 - y, x, c) : out.at(x, y, c); };
  s.vflip = source(0, 0, 1) > source(0, ch - 1, 1);
  s.x0 = source(0, 0, 0);
  s.y0 = s.vflip ? source(0, ch - 1, 1) : source(0, 0, 1);
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) {
      const int sy = s.vflip ? ch - 1 - y : y;
      EXPECT_EQ(source(x, sy, 0), s.x0 + x);
      EXPECT_EQ(source(x, sy, 1), s.y0 + y);
    }
  return s;
}

TEST(Augment, FlipsAndQuarterTurnsAreExactAndSharedWithTheTwin) {
  Augment crop_only;
  crop_only.crop_width = 5;
  crop_only.crop_height = 3;
  Augment all = crop_only;
  all.vflip = true;
  all.rot90 = true;
  int turned = 0, flipped = 0;
  for (std::int64_t step = 0; step < 32; ++step) {
    std::vector<Image> images{coordinate_image(12, 9, 0)}, twins{coordinate_image(12, 9, 7)};
    augment_batch(images, &twins, all, 42, step);
    const Seen s = decode(images[0], 5, 3);
    turned += s.turned;
    flipped += s.vflip;
    // The twin went through the very same transform.
    ASSERT_EQ(twins[0].width, images[0].width);
    ASSERT_EQ(twins[0].height, images[0].height);
    for (std::size_t i = 0; i < images[0].pixels.size(); i += 3) {
      EXPECT_EQ(twins[0].pixels[i], images[0].pixels[i]);
      EXPECT_EQ(twins[0].pixels[i + 1], images[0].pixels[i + 1]);
      EXPECT_EQ(twins[0].pixels[i + 2], 7);
    }
    // Enabling the new transforms does not move the crop of an existing config.
    std::vector<Image> plain{coordinate_image(12, 9, 0)};
    augment_batch(plain, nullptr, crop_only, 42, step);
    const Seen p = decode(plain[0], 5, 3);
    EXPECT_FALSE(p.turned || p.vflip);
    EXPECT_EQ(s.x0, p.x0);
    EXPECT_EQ(s.y0, p.y0);
  }
  // Both coins land both ways over 32 steps (deterministic for this seed).
  EXPECT_GT(turned, 0);
  EXPECT_LT(turned, 32);
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 32);
}

TEST(Augment, AQuarterTurnOfAWholeImageIsClockwise) {
  Augment turn;
  turn.rot90 = true;
  for (std::int64_t step = 0; step < 16; ++step) {
    std::vector<Image> images{coordinate_image(4, 2, 0)};
    augment_batch(images, nullptr, turn, 1, step);
    if (images[0].width == 4) continue;  // this step's coin said no
    ASSERT_EQ(images[0].width, 2);
    ASSERT_EQ(images[0].height, 4);
    // Clockwise: the input's bottom-left pixel (0, 1) is the output's top-left one; its top-left (0, 0) is top-right.
    EXPECT_EQ(images[0].at(0, 0, 0), 0);
    EXPECT_EQ(images[0].at(0, 0, 1), 1);
    EXPECT_EQ(images[0].at(1, 0, 0), 0);
    EXPECT_EQ(images[0].at(1, 0, 1), 0);
    EXPECT_EQ(images[0].at(1, 3, 0), 3);
    EXPECT_EQ(images[0].at(1, 3, 1), 0);
    return;
  }
  FAIL() << "no step of 16 turned the image";
}

}  // namespace
}  // namespace hawkeye::rl
