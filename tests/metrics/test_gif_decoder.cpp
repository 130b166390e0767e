// The GIF decoder (src/image/gif.cpp) that lets the metrics read piq's goldhill calibration images:
// GIFs built byte by byte here (uncompressed LZW), the real LZW files of the shared data checked against
// Pillow, and hostile input. (It lives with the metrics tests because the metrics calibration needs it.)
#include <gtest/gtest.h>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/gif.h"
#include "hawkeye/image/io.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

struct GifSpec {
  int screen_w = 0, screen_h = 0;
  std::vector<std::array<std::uint8_t, 3>> palette;  // global, 2^n entries
  int background = 0;
  int left = 0, top = 0, w = 0, h = 0;
  bool interlaced = false;
  int transparent = -1;
  std::vector<std::uint8_t> indices;  // in file order (already interlaced if interlaced)
};

void le16(std::string& s, int v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}

// LZW stream without compression: a clear code every (clear - 2) literals keeps the code size fixed.
std::string lzw_uncompressed(const std::vector<std::uint8_t>& idx, int min_code) {
  const int clear = 1 << min_code, size = min_code + 1;
  std::string out;
  std::uint32_t bits = 0;
  int nbits = 0;
  auto put = [&](int code) {
    bits |= static_cast<std::uint32_t>(code) << nbits;
    nbits += size;
    while (nbits >= 8) {
      out += static_cast<char>(bits & 0xFF);
      bits >>= 8;
      nbits -= 8;
    }
  };
  for (std::size_t i = 0; i < idx.size(); ++i) {
    if (i % static_cast<std::size_t>(clear - 2) == 0) put(clear);
    put(idx[i]);
  }
  put(clear + 1);
  if (nbits > 0) out += static_cast<char>(bits & 0xFF);
  return out;
}

std::string make_gif(const GifSpec& g) {
  std::string s = "GIF89a";
  le16(s, g.screen_w);
  le16(s, g.screen_h);
  int bits = 1;
  while ((2 << (bits - 1)) < static_cast<int>(g.palette.size())) ++bits;
  s += static_cast<char>(0x80 | (bits - 1));
  s += static_cast<char>(g.background);
  s += '\0';
  for (const auto& c : g.palette) s.append(reinterpret_cast<const char*>(c.data()), 3);
  if (g.transparent >= 0) {
    s += std::string("\x21\xF9\x04\x01\x00\x00", 6);
    s += static_cast<char>(g.transparent);
    s += '\0';
  }
  s += static_cast<char>(0x2C);
  le16(s, g.left);
  le16(s, g.top);
  le16(s, g.w);
  le16(s, g.h);
  s += static_cast<char>(g.interlaced ? 0x40 : 0);
  const int min_code = std::max(2, bits);
  s += static_cast<char>(min_code);
  const std::string data = lzw_uncompressed(g.indices, min_code);
  for (std::size_t p = 0; p < data.size(); p += 255) {
    const std::size_t n = std::min<std::size_t>(255, data.size() - p);
    s += static_cast<char>(n);
    s += data.substr(p, n);
  }
  s += '\0';
  s += ';';
  return s;
}

const std::vector<std::array<std::uint8_t, 3>> kPalette = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};

}  // namespace

TEST(GifDecoder, DecodesAFrameWithItsPalette) {
  GifSpec g{5, 3, kPalette, 0, 0, 0, 5, 3};
  for (int i = 0; i < 15; ++i) g.indices.push_back(static_cast<std::uint8_t>(i % 4));
  const Image img = decode_gif(make_gif(g));
  ASSERT_EQ(img.width, 5);
  ASSERT_EQ(img.height, 3);
  EXPECT_EQ(img.at(1, 0, 0), 255);  // index 1: red
  EXPECT_EQ(img.at(2, 0, 1), 255);  // index 2: green
  EXPECT_EQ(img.at(3, 2, 2), 0);    // pixel 13 -> index 1: red, no blue
  EXPECT_EQ(img.at(3, 2, 0), 255);
}

TEST(GifDecoder, InterlacedRowsTransparencyAndOffsets) {
  // 1x10 interlaced: file rows are 0, 8, 4, 2, 6, 1, 3, 5, 7, 9; row y gets index (y % 3) + 1.
  GifSpec g{1, 10, kPalette, 0, 0, 0, 1, 10, true};
  for (int y : {0, 8, 4, 2, 6, 1, 3, 5, 7, 9}) g.indices.push_back(static_cast<std::uint8_t>(y % 3 + 1));
  const Image img = decode_gif(make_gif(g));
  for (int y = 0; y < 10; ++y) EXPECT_EQ(img.at(0, y, (y % 3)), 255) << y;
  // A 2x2 frame at (1, 1) on a 4x3 screen with colour 3 (blue) transparent and background 2 (green).
  GifSpec t{4, 3, kPalette, 2, 1, 1, 2, 2, false, 3, {1, 3, 3, 1}};
  const Image ti = decode_gif(make_gif(t));
  EXPECT_EQ(ti.at(0, 0, 1), 255);  // uncovered: background green
  EXPECT_EQ(ti.at(1, 1, 0), 255);  // red
  EXPECT_EQ(ti.at(2, 1, 1), 255);  // transparent: background green
}

TEST(GifDecoder, RealLzwFilesMatchPillow) {
  // Pillow 9.4 (Debian 12): np.array(Image.open(f).convert('RGB')): sum, pixel (0,0), (x=200,y=100), last.
  struct Want {
    const char* file;
    long long sum;
    int p00, p100_200, last;
  } wants[] = {{"piq_assets/goldhill.gif", 88240371, 230, 97, 28}, {"piq_assets/goldhill_jpeg.gif", 88253427, 228, 112, 32}};
  for (const Want& w : wants) {
    const Image img = load_image(test::fixtures() / w.file);  // through decode_image
    ASSERT_EQ(img.width, 512);
    ASSERT_EQ(img.height, 512);
    long long sum = 0;
    for (std::uint8_t v : img.pixels) sum += v;
    EXPECT_EQ(sum, w.sum) << w.file;
    EXPECT_EQ(img.at(0, 0, 0), w.p00);
    EXPECT_EQ(img.at(200, 100, 1), w.p100_200);
    EXPECT_EQ(img.at(511, 511, 2), w.last);
  }
}

TEST(GifDecoderHostile, TruncationsAndCorruptionAreErrorsNotCrashes) {
  const std::string good = read_file(test::fixtures() / "piq_assets/goldhill_jpeg.gif");
  for (std::size_t n = 0; n < good.size(); n += 97) {
    try {
      (void)decode_gif(good.substr(0, n), "cut.gif");
      ADD_FAILURE() << "a GIF cut at byte " << n << " decoded";
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::corrupt_data || e.code() == ErrorCode::unsupported) << e.what();
    }
  }
  Rng rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 4; ++k) bad[20 + rng.below(bad.size() - 20)] = static_cast<char>(rng.below(256));
    try {
      (void)decode_gif(bad);
    } catch (const Error&) {
    }
  }
}

TEST(GifDecoderHostile, InvalidStreamsAreNamed) {
  GifSpec g{2, 2, kPalette, 0, 0, 0, 2, 2, false, -1, {0, 1, 2, 3}};
  std::string bad_code = make_gif(g);
  // First code after the clear must be a palette index; make it 7 (bits 3..5 of the first data byte).
  const std::size_t data = bad_code.find(static_cast<char>(0x2C)) + 10 + 2;  // descriptor, min code size, block length
  bad_code[data] = static_cast<char>((bad_code[data] & 0x07) | (7 << 3));
  try {
    (void)decode_gif(bad_code, "bad.gif");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data);
    EXPECT_NE(std::string(e.what()).find("bad.gif"), std::string::npos);
  }
  std::string min9 = make_gif(g);
  min9[min9.find(static_cast<char>(0x2C)) + 10] = 9;
  EXPECT_THROW((void)decode_gif(min9), Error);
  // A header claiming 60000 x 60000 is refused by decode_image's limits before any pixel is decoded.
  std::string huge = make_gif(g);
  huge[6] = huge[8] = static_cast<char>(0x60);
  huge[7] = huge[9] = static_cast<char>(0xEA);
  ImageLimits limits;
  limits.max_pixels = 1'000'000;
  try {
    (void)decode_image(huge, limits, "huge.gif");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
  }
  // A frame far larger than its screen is refused instead of allocated.
  GifSpec big{2, 2, kPalette, 0, 0, 0, 60000, 60000, false, -1, {0}};
  EXPECT_THROW((void)decode_gif(make_gif(big)), Error);
  EXPECT_THROW((void)decode_gif("GIF89a"), Error);
  EXPECT_EQ([] {
    try {
      (void)decode_gif("PNG is not GIF");
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal;
  }(), ErrorCode::unsupported);
}

// Issue 18 item 12: "unknown GIF block 0x254" printed the byte in decimal after 0x.
TEST(GifDecoderHostile, AnUnknownBlockIsNamedInHex) {
  std::string gif = "GIF89a";
  le16(gif, 1);
  le16(gif, 1);
  gif += std::string("\x80\x00\x00", 3);          // global palette of 2 entries, background 0, no aspect
  gif += std::string("\x00\x00\x00\xff\xff\xff", 6);
  gif += static_cast<char>(0xFE);                  // not an extension (0x21), image (0x2C) or trailer (0x3B)
  try {
    (void)decode_gif(gif, "odd.gif");
    FAIL() << "decoded a GIF with an unknown block";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown GIF block 0xFE"), std::string::npos) << e.what();
  }
}
