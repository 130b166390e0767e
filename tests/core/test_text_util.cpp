// The shared string helpers (include/hawkeye/core/text_util.h): trim_space, edit_distance, closest_name.
#include <gtest/gtest.h>

#include "hawkeye/core/text_util.h"

using namespace hawkeye;

TEST(TextUtil, EditDistanceCountsSwapsOfNeighboursAsOne) {
  EXPECT_EQ(edit_distance("score", "score"), 0u);
  EXPECT_EQ(edit_distance("scroe", "score"), 1u);  // swap
  EXPECT_EQ(edit_distance("sampels", "samples"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(TextUtil, ClosestNameOffersOnlyNearNames) {
  const std::vector<std::string> names = {"score", "serve", "synth", "sft"};
  EXPECT_EQ(closest_name("scroe", names), "score");
  EXPECT_EQ(closest_name("serv", names), "serve");
  EXPECT_EQ(closest_name("frobnicate", names), "");  // nothing near: no suggestion
  EXPECT_EQ(closest_name("x", {"y"}), "y");          // at least distance 1 is allowed
  EXPECT_EQ(closest_name("abcdefghij", {"abcdefxxxx"}), "");
  EXPECT_EQ(closest_name("abcdefghij", {"abcdefxxxx"}, 4), "abcdefxxxx");
  EXPECT_EQ(ascii_lower("SSIM_Ms"), "ssim_ms");
  EXPECT_EQ(trim_space("  a b \t\n"), "a b");
}

TEST(TextUtil, SplitOnKeepsEmptyParts) {
  EXPECT_EQ(split_on("a:b::c", ':'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(split_on("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split_on("run.dir", '.'), (std::vector<std::string>{"run", "dir"}));
}
