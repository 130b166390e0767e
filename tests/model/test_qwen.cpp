// Qwen2.5-VL without weights or a GPU: tiny random configurations (qwen_fixtures.h).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/init.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/qwen2_5_vl.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/trainer.h"
#include "qwen_fixtures.h"
#include "rl/trainer_fixtures.h"
#include "test_util.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

using test::kImagePad;
using test::tiny_image_config;
using test::tiny_qwen;
using test::tiny_qwen_config;

Image pattern_image(int w, int h, std::uint64_t seed) {
  Image img(w, h, 3);
  Rng rng(seed);
  for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
  return img;
}

// The deterministic picture the Pillow golden values were computed from (tests/parity/make_qwen_fixture.py
// has the same formula): value(x, y, c) = (37x + 91y + 53c + 7((xy) mod 17)) mod 256.
Image formula_image(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = static_cast<std::uint8_t>((x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 7) % 256);
  return img;
}

std::uint64_t fnv1a(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::int64_t> with_image(std::initializer_list<std::int64_t> head, std::int64_t n, std::initializer_list<std::int64_t> tail) {
  std::vector<std::int64_t> p(head);
  p.push_back(259);
  for (std::int64_t i = 0; i < n; ++i) p.push_back(kImagePad);
  p.push_back(260);
  p.insert(p.end(), tail);
  return p;
}

}  // namespace

// ---- image processor ----------------------------------------------------------------------------------

TEST(QwenImage, SmartResizeMatchesTransformers) {
  // (height, width, min_pixels, max_pixels) -> (height, width): transformers' smart_resize
  // (models/qwen2_vl/image_processing_qwen2_vl.py, 5.x), copied into CPython 3.11 and run on these sizes.
  struct Case {
    int h, w;
    std::int64_t mn, mx;
    int eh, ew;
  };
  const Case cases[] = {
      {1, 1, 3136, 12845056, 56, 56},
      {10, 10, 3136, 12845056, 56, 56},
      {14, 14, 3136, 12845056, 56, 56},
      {27, 29, 3136, 12845056, 56, 84},
      {28, 28, 3136, 12845056, 56, 56},
      {42, 42, 3136, 12845056, 56, 56},
      {70, 70, 3136, 12845056, 56, 56},
      {98, 126, 3136, 12845056, 112, 112},
      {150, 200, 3136, 12845056, 140, 196},
      {200, 150, 3136, 12845056, 196, 140},
      {224, 224, 3136, 12845056, 224, 224},
      {240, 320, 3136, 12845056, 252, 308},
      {299, 301, 3136, 12845056, 308, 308},
      {333, 500, 3136, 12845056, 336, 504},
      {480, 640, 3136, 12845056, 476, 644},
      {512, 512, 3136, 12845056, 504, 504},
      {600, 800, 3136, 12845056, 588, 812},
      {720, 1280, 3136, 12845056, 728, 1288},
      {768, 1024, 3136, 12845056, 756, 1036},
      {1080, 1920, 3136, 12845056, 1092, 1932},
      {1200, 1600, 3136, 12845056, 1204, 1596},
      {2048, 1536, 3136, 12845056, 2044, 1540},
      {3000, 4000, 3136, 12845056, 2996, 4004},
      {4032, 3024, 3136, 12845056, 4032, 3024},
      {6000, 8000, 3136, 12845056, 3080, 4116},
      {100, 5000, 3136, 12845056, 112, 5012},
      {5000, 100, 3136, 12845056, 5012, 112},
      {30, 2000, 3136, 12845056, 28, 1988},
      {1000, 5, 3136, 12845056, 812, 28},
      {7, 1400, 3136, 12845056, 28, 812},
      {883, 1177, 3136, 12845056, 896, 1176},
      {1023, 767, 3136, 12845056, 1036, 756},
      {2000, 2000, 3136, 12845056, 1988, 1988},
      {61, 89, 3136, 12845056, 56, 84},
      {1, 1, 3136, 786432, 56, 56},
      {10, 10, 3136, 786432, 56, 56},
      {14, 14, 3136, 786432, 56, 56},
      {27, 29, 3136, 786432, 56, 84},
      {28, 28, 3136, 786432, 56, 56},
      {42, 42, 3136, 786432, 56, 56},
      {70, 70, 3136, 786432, 56, 56},
      {98, 126, 3136, 786432, 112, 112},
      {150, 200, 3136, 786432, 140, 196},
      {200, 150, 3136, 786432, 196, 140},
      {224, 224, 3136, 786432, 224, 224},
      {240, 320, 3136, 786432, 252, 308},
      {299, 301, 3136, 786432, 308, 308},
      {333, 500, 3136, 786432, 336, 504},
      {480, 640, 3136, 786432, 476, 644},
      {512, 512, 3136, 786432, 504, 504},
      {600, 800, 3136, 786432, 588, 812},
      {720, 1280, 3136, 786432, 644, 1176},
      {768, 1024, 3136, 786432, 756, 1036},
      {1080, 1920, 3136, 786432, 644, 1176},
      {1200, 1600, 3136, 786432, 756, 1008},
      {2048, 1536, 3136, 786432, 1008, 756},
      {3000, 4000, 3136, 786432, 756, 1008},
      {4032, 3024, 3136, 786432, 1008, 756},
      {6000, 8000, 3136, 786432, 756, 1008},
      {100, 5000, 3136, 786432, 112, 5012},
      {5000, 100, 3136, 786432, 5012, 112},
      {30, 2000, 3136, 786432, 28, 1988},
      {1000, 5, 3136, 786432, 812, 28},
      {7, 1400, 3136, 786432, 28, 812},
      {883, 1177, 3136, 786432, 756, 1008},
      {1023, 767, 3136, 786432, 1036, 756},
      {2000, 2000, 3136, 786432, 868, 868},
      {61, 89, 3136, 786432, 56, 84},
      {1, 1, 3136, 1003520, 56, 56},
      {10, 10, 3136, 1003520, 56, 56},
      {14, 14, 3136, 1003520, 56, 56},
      {27, 29, 3136, 1003520, 56, 84},
      {28, 28, 3136, 1003520, 56, 56},
      {42, 42, 3136, 1003520, 56, 56},
      {70, 70, 3136, 1003520, 56, 56},
      {98, 126, 3136, 1003520, 112, 112},
      {150, 200, 3136, 1003520, 140, 196},
      {200, 150, 3136, 1003520, 196, 140},
      {224, 224, 3136, 1003520, 224, 224},
      {240, 320, 3136, 1003520, 252, 308},
      {299, 301, 3136, 1003520, 308, 308},
      {333, 500, 3136, 1003520, 336, 504},
      {480, 640, 3136, 1003520, 476, 644},
      {512, 512, 3136, 1003520, 504, 504},
      {600, 800, 3136, 1003520, 588, 812},
      {720, 1280, 3136, 1003520, 728, 1288},
      {768, 1024, 3136, 1003520, 756, 1036},
      {1080, 1920, 3136, 1003520, 728, 1316},
      {1200, 1600, 3136, 1003520, 840, 1148},
      {2048, 1536, 3136, 1003520, 1148, 840},
      {3000, 4000, 3136, 1003520, 840, 1148},
      {4032, 3024, 3136, 1003520, 1148, 840},
      {6000, 8000, 3136, 1003520, 840, 1148},
      {100, 5000, 3136, 1003520, 112, 5012},
      {5000, 100, 3136, 1003520, 5012, 112},
      {30, 2000, 3136, 1003520, 28, 1988},
      {1000, 5, 3136, 1003520, 812, 28},
      {7, 1400, 3136, 1003520, 28, 812},
      {883, 1177, 3136, 1003520, 840, 1148},
      {1023, 767, 3136, 1003520, 1036, 756},
      {2000, 2000, 3136, 1003520, 980, 980},
      {61, 89, 3136, 1003520, 56, 84},
      {1, 1, 200704, 200704, 448, 448},
      {10, 10, 200704, 200704, 448, 448},
      {14, 14, 200704, 200704, 448, 448},
      {27, 29, 200704, 200704, 448, 476},
      {28, 28, 200704, 200704, 448, 448},
      {42, 42, 200704, 200704, 448, 448},
      {70, 70, 200704, 200704, 448, 448},
      {98, 126, 200704, 200704, 420, 532},
      {150, 200, 200704, 200704, 392, 532},
      {200, 150, 200704, 200704, 532, 392},
      {224, 224, 200704, 200704, 448, 448},
      {240, 320, 200704, 200704, 392, 532},
      {299, 301, 200704, 200704, 448, 476},
      {333, 500, 200704, 200704, 392, 560},
      {480, 640, 200704, 200704, 364, 504},
      {512, 512, 200704, 200704, 448, 448},
      {600, 800, 200704, 200704, 364, 504},
      {720, 1280, 200704, 200704, 336, 588},
      {768, 1024, 200704, 200704, 364, 504},
      {1080, 1920, 200704, 200704, 336, 588},
      {1200, 1600, 200704, 200704, 364, 504},
      {2048, 1536, 200704, 200704, 504, 364},
      {3000, 4000, 200704, 200704, 364, 504},
      {4032, 3024, 200704, 200704, 504, 364},
      {6000, 8000, 200704, 200704, 364, 504},
      {100, 5000, 200704, 200704, 56, 3164},
      {5000, 100, 200704, 200704, 3164, 56},
      {30, 2000, 200704, 200704, 56, 3668},
      {1000, 5, 200704, 200704, 6356, 56},
      {7, 1400, 200704, 200704, 56, 6356},
      {883, 1177, 200704, 200704, 364, 504},
      {1023, 767, 200704, 200704, 504, 364},
      {2000, 2000, 200704, 200704, 448, 448},
      {61, 89, 200704, 200704, 392, 560},
      {1, 1, 100000, 200000, 336, 336},
      {10, 10, 100000, 200000, 336, 336},
      {14, 14, 100000, 200000, 336, 336},
      {27, 29, 100000, 200000, 308, 336},
      {28, 28, 100000, 200000, 336, 336},
      {42, 42, 100000, 200000, 336, 336},
      {70, 70, 100000, 200000, 336, 336},
      {98, 126, 100000, 200000, 280, 364},
      {150, 200, 100000, 200000, 280, 392},
      {200, 150, 100000, 200000, 392, 280},
      {224, 224, 100000, 200000, 336, 336},
      {240, 320, 100000, 200000, 280, 392},
      {299, 301, 100000, 200000, 336, 336},
      {333, 500, 100000, 200000, 336, 504},
      {480, 640, 100000, 200000, 364, 504},
      {512, 512, 100000, 200000, 420, 420},
      {600, 800, 100000, 200000, 364, 504},
      {720, 1280, 100000, 200000, 308, 588},
      {768, 1024, 100000, 200000, 364, 504},
      {1080, 1920, 100000, 200000, 308, 588},
      {1200, 1600, 100000, 200000, 364, 504},
      {2048, 1536, 100000, 200000, 504, 364},
      {3000, 4000, 100000, 200000, 364, 504},
      {4032, 3024, 100000, 200000, 504, 364},
      {6000, 8000, 100000, 200000, 364, 504},
      {100, 5000, 100000, 200000, 56, 3136},
      {5000, 100, 100000, 200000, 3136, 56},
      {30, 2000, 100000, 200000, 56, 2604},
      {1000, 5, 100000, 200000, 4480, 28},
      {7, 1400, 100000, 200000, 28, 4480},
      {883, 1177, 100000, 200000, 364, 504},
      {1023, 767, 100000, 200000, 504, 364},
      {2000, 2000, 100000, 200000, 420, 420},
      {61, 89, 100000, 200000, 280, 392}
  };
  for (const auto& k : cases) {
    QwenImageConfig c;
    c.min_pixels = k.mn;
    c.max_pixels = k.mx;
    const auto s = qwen_smart_resize(k.h, k.w, c);
    EXPECT_EQ(s.height, k.eh) << k.h << "x" << k.w << " limits " << k.mn << ".." << k.mx;
    EXPECT_EQ(s.width, k.ew) << k.h << "x" << k.w << " limits " << k.mn << ".." << k.mx;
  }
}

TEST(QwenImage, TokenCountsFollowTheFormulaForManySizes) {
  auto q = tiny_qwen();
  QwenImageConfig c = tiny_image_config();
  Rng rng(7);
  for (int i = 0; i < 400; ++i) {
    const int h = 1 + static_cast<int>(rng() % 900), w = 1 + static_cast<int>(rng() % 900);
    if (std::max(h, w) > 200 * std::min(h, w)) {
      EXPECT_THROW(qwen_smart_resize(h, w, c), Error);
      continue;
    }
    const auto s = qwen_smart_resize(h, w, c);
    ASSERT_EQ(s.height % 28, 0);
    ASSERT_EQ(s.width % 28, 0);
    ASSERT_GE(s.height, 28);
    ASSERT_GE(s.width, 28);
    // Rounded to the nearest multiple unless a limit forced a rescale; the area stays within the limits
    // (the floor/ceil of each side is what keeps it there).
    const std::int64_t area = static_cast<std::int64_t>(s.height) * s.width;
    const std::int64_t rounded = static_cast<std::int64_t>(std::nearbyint(h / 28.0) * 28) * static_cast<std::int64_t>(std::nearbyint(w / 28.0) * 28);
    if (rounded > c.max_pixels) EXPECT_LE(area, c.max_pixels) << h << "x" << w;
    if (rounded < c.min_pixels) EXPECT_GE(area, c.min_pixels) << h << "x" << w;
    const Grid g = q->visual_grid(w, h);
    EXPECT_EQ(g[0], 1);
    EXPECT_EQ(g[1] * g[2], area / (28 * 28)) << h << "x" << w;
  }
  // The preprocessed patches agree with the grid: 4 patches per visual token, 3*2*14*14 values each.
  const Image img = pattern_image(123, 77, 3);
  const auto in = q->preprocess({&img});
  const Grid g = q->visual_grid(123, 77);
  EXPECT_EQ(in.grid[0], g);
  EXPECT_EQ(in.pixels[0].size(0), 4 * g[1] * g[2]);
  EXPECT_EQ(in.pixels[0].size(1), 3 * 2 * 14 * 14);
}

TEST(QwenImage, RefusesExtremeAspectRatios) {
  QwenImageConfig c;
  EXPECT_THROW(qwen_smart_resize(10, 2001, c), Error);
  EXPECT_THROW(qwen_smart_resize(0, 100, c), Error);
  EXPECT_NO_THROW(qwen_smart_resize(10, 2000, c));
}

TEST(QwenImage, BicubicIsPillowBitForBit) {
  // Pillow 9.4 Image.resize((w, h), Image.BICUBIC) of formula_image, bytes as hex.
  struct Case {
    int sw, sh, tw, th;
    const char* hex;
  };
  const Case cases[] = {
      {13, 9, 7, 11, "0d42774f88cba5dcb9a64b37144c9469a2b7afe3145299c8ad95614f5783698fbca2aa726c51785e9c9db1a17b7e696e608692897f8e738c85404d8c6aae9f9673515b7ba5a5af8fac48512d6fa45968848f8b63316ca2a3c196ab626d8b4f8c7ba490a86c3a7d297496b977a356634985c779b2a8ec99425785616096d575a75c64877c85cc856a604f6d3f7678bd779ada884e8e969cd445a87a562e5178749b80947d849f686f7274ac7b97436f5c815471b8a4c25d994687906766a4578c3d5198557da09a85acaa8a5d86657d97a76d8a3d727ab3f2c1714d7b6e5a8464ae6eba69ba6890"},
      {13, 9, 29, 4, "467f7c4e7c886375a47478b16e938c6aa86a818c749b63908a63a95f7ebd5597b16fb47589b354a47b64ac4b807d539d4570b2458c9e60a674739668805b767b4288565ba23f79ac4e8c92689e727fb46990c76998d0695d9978689376848771977c758e75908176a57c8b907ca3718c9a7ca47da09c77a56b8a8a618d78a1687cd04d829e617d5a81795a868f7e7dae8c899889a64f82a22f7a664a6d3c704f50963d71b1667b9aa17c71ba7d6279b28272ae815f977e5a857c7b877e9a8f7892a14f7eb22481a5469186988f7fb07b9589619a72377b862660955e5f80a46864aa6e548e754e838b6783b19e88b7a6978c62976a396f6f734f82b67696a5b6aa77cbb2669060988e5a938a4987834a85787a996ba6aa59a3a04b8a8d666c839a497ca5507685857067a4774c989c4a7fb489549ed13579d26668aac0617ecb744690a04569a49d6260d7693aa07e7f5f91c5808798c17245d86924"},
      {13, 9, 13, 20, "002c611c51864075c264b2e7a1d6ffc5fa17ea073c002b601a4f9c3f8cc17bb0e59fd400c4f9160a3f7730689d588da07e91c682b7eca8dd34ce255a154a7f3b70836275aa669bd08cc115b2e73e3368af5ca3d896cb4ebf4277366ba05f947b886fa46398cd8cc143bd407534699e5c916785baa26297c08fb8edafe41ddc144a0c4176396e9f6597cc8ec3f8bbf028e11a5011477c3f74b16ba0d19cd16dcb679c6297459240853a80b57bb05ba15e93588dc288bd6b711e64195f945a8fd380c671b7ec21ea1f541d52835081b97fb7ecb5ea1fe61f541c51864f84b60b3d753a73a870a5daa2da0f75aa35ab36783779c07ac180c281b689be49fd134814498b4a8cd3377e4b8d4c814d82b7c2820d1b506e5472b376b7eebcf231f6356a3e7391fc2358275c9d60a1d894cb15db194e1d5287db19371c51a261a98bb093c89acf44db467b275cadd8578c59977a9e81b6bdf20ba712501e5388c631825388d3a3dd2ee8396e43788c8b8dc22e63ae99a1d6a2e93af34479cbff1e26296f3b70a59698e485babd96cb1cd82963396e8764b0e553888b5da3d8cbce1fdc2d67b7ec4e156163578cc18dd9dbbcf15d396e507e61a97aaf3762b3e89ed33e1e5c91d9442655377f7db29e70c12d74a9deabfc67bdf2300f46875a9bb9a5da017b99ceb3e826002f64c707491a5b7b6095d6b4d31275aadfcae8286398583a81c398da65abe000c04b8071a666002e6383559762a54278adefc76424457aafec774921568e74a5dabff42a96cb03e71c51356aa210457a5d92c7aee31583b8edd4063e22578cfa2f643c81c6af5d927aaf4b4d822fa85388295eb3558abf966499c9fe135489beef045930659ad4803e76b3e8d40c412d628a0b40696192c7386dab91c6fbe22358cbff2c22578cfe2a684f84b9abdc15a57bb09f2156467bc2285da481689d6da2776ea3d8fb1e53a1d66b24598edc7146699ed3b8a022ce2257495c9184b9f1699ed6c51c51ace135285d92fd2f64699eb43c71a6aac0147fb4e9d93043e100332673a89cd1ff83b8ede00032c7fc190c4176ff356a5186d34479ae95e20089bef3e60350"},
      {13, 9, 5, 9, "20558f85bac88f6251376cab9cd1488db5a97a53585e9dc4a88160466eaaa06c516798ac9e7160255a9e72a7864884acb99871864a8a88956d902e56a69966676ca384ab9fb695474d89b760956d81bd766b5a546371829ed8766aa78eaf8e373e659197a4829735728753882c649b988dae9d7a5f928b727f66a09f8c9a8f6a5e718892a5897d"},
      {40, 30, 3, 2, "7e86807e807c80817f7d85807d807d7f827f"}
  };
  for (const auto& k : cases) {
    const Image out = resize_bicubic_pil(formula_image(k.sw, k.sh), k.tw, k.th);
    std::string hex;
    char buf[3];
    for (auto b : out.pixels) {
      std::snprintf(buf, sizeof buf, "%02x", b);
      hex += buf;
    }
    EXPECT_EQ(hex, k.hex) << k.sw << "x" << k.sh << " -> " << k.tw << "x" << k.th;
  }
  // Larger cases by FNV-1a hash of the bytes (same source).
  struct Hashed {
    int sw, sh, tw, th;
    std::uint64_t fnv;
  };
  const Hashed hashed[] = {{200, 150, 196, 140, 0x54f3076900828907ULL},
                           {1000, 700, 252, 168, 0x6ef0c49c781e8a27ULL},
                           {150, 200, 140, 196, 0x002cec792b9bf70fULL},
                           {64, 300, 56, 280, 0xd5ad73073c6945a4ULL}};
  for (const auto& k : hashed) {
    EXPECT_EQ(fnv1a(resize_bicubic_pil(formula_image(k.sw, k.sh), k.tw, k.th).pixels), k.fnv) << k.sw << "x" << k.sh;
  }
  const Image same = formula_image(20, 10);
  EXPECT_EQ(resize_bicubic_pil(same, 20, 10), same);
  EXPECT_THROW(resize_bicubic_pil(same, 0, 10), Error);
  EXPECT_THROW(resize_bicubic_pil(Image(), 4, 4), Error);
}

TEST(QwenImage, PatchesAreFlattenedInTheVisionTowersOrder) {
  // A 56x28 picture whose red channel is its column and green its row: 2 merged tokens x 4 patches.
  Image img(56, 28, 3);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 56; ++x) {
      img.at(x, y, 0) = static_cast<std::uint8_t>(x);
      img.at(x, y, 1) = static_cast<std::uint8_t>(y);
      img.at(x, y, 2) = 7;
    }
  QwenImageConfig c;
  const auto p = qwen_flatten_patches(img, c);
  ASSERT_EQ(p.rows, 8);
  ASSERT_EQ(p.cols, 3 * 2 * 14 * 14);
  EXPECT_EQ(p.grid_h, 2);
  EXPECT_EQ(p.grid_w, 4);
  auto unnorm = [&](float v, int ch) { return std::lround((v * c.std[ch] + c.mean[ch]) * 255.0); };
  // Rows: merge unit (0,0) = patches (0,0) (0,1) (1,0) (1,1), then unit (0,1) = patches (0,2) (0,3) (1,2) (1,3).
  const int patch_row[8] = {0, 0, 1, 1, 0, 0, 1, 1}, patch_col[8] = {0, 1, 0, 1, 2, 3, 2, 3};
  for (int r = 0; r < 8; ++r) {
    for (int ch = 0; ch < 3; ++ch)
      for (int t = 0; t < 2; ++t)
        for (int y = 0; y < 14; ++y)
          for (int x = 0; x < 14; ++x) {
            const float v = p.values[r * p.cols + ((ch * 2 + t) * 14 + y) * 14 + x];
            const long expect = ch == 0 ? patch_col[r] * 14 + x : ch == 1 ? patch_row[r] * 14 + y : 7;
            ASSERT_EQ(unnorm(v, ch), expect) << "row " << r << " channel " << ch << " frame " << t << " y " << y << " x " << x;
          }
  }
  // x / 255 rounded to float, then (x - mean) / std in float (what transformers computes).
  const float want = (static_cast<float>(7 * (1.0 / 255.0)) - static_cast<float>(c.mean[2])) / static_cast<float>(c.std[2]);
  EXPECT_EQ(p.values[2 * 2 * 14 * 14], want);
  EXPECT_THROW(qwen_flatten_patches(Image(30, 28, 3), c), Error);
}

TEST(QwenImage, PreprocessorConfigIsRead) {
  const auto j = nlohmann::json::parse(R"({"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "merge_size": 2,
      "temporal_patch_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25],
      "size": {"shortest_edge": 1, "longest_edge": 2}})");
  const auto c = QwenImageConfig::from_json(j, "preprocessor_config.json");
  EXPECT_EQ(c.min_pixels, 3136);  // explicit min/max_pixels win over size
  EXPECT_EQ(c.max_pixels, 12845056);
  EXPECT_EQ(c.mean[0], 0.5);
  const auto v5 = QwenImageConfig::from_json(nlohmann::json::parse(R"({"size": {"shortest_edge": 4000, "longest_edge": 9000}})"), "p");
  EXPECT_EQ(v5.min_pixels, 4000);
  EXPECT_EQ(v5.max_pixels, 9000);
  try {
    QwenImageConfig::from_json(nlohmann::json::parse(R"({"max_pixels": "big"})"), "preprocessor_config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_pixels"), std::string::npos) << e.what();
  }
}

// ---- positions and windows ------------------------------------------------------------------------------

TEST(QwenPositions, HandWorkedExampleTextImageText) {
  // 3 text tokens, an image of 4x6 merged tokens (8x12 patches), 2 text tokens. Worked by hand from
  // Hugging Face's get_rope_index: text 0,1,2; the image starts at 3 with (t, row, col) = (3, 3+r, 3+c);
  // the text after it continues at 3 + max(4, 6) = 9.
  const std::vector<std::int64_t> tokens = [] {
    std::vector<std::int64_t> t{10, 11, 12};
    for (int i = 0; i < 24; ++i) t.push_back(kImagePad);
    t.push_back(13);
    t.push_back(14);
    return t;
  }();
  const Grid g{1, 4, 6};
  std::int64_t next = -1;
  const auto pos = qwen_rope_positions(tokens, kImagePad, &g, &next);
  ASSERT_EQ(pos.sizes(), (std::vector<std::int64_t>{3, 29}));
  const std::vector<std::int64_t> t_axis = {0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 9, 10};
  const std::vector<std::int64_t> h_axis = {0, 1, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 9, 10};
  const std::vector<std::int64_t> w_axis = {0, 1, 2, 3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8, 9, 10};
  for (int i = 0; i < 29; ++i) {
    EXPECT_EQ(pos[0][i].item<std::int64_t>(), t_axis[i]) << i;
    EXPECT_EQ(pos[1][i].item<std::int64_t>(), h_axis[i]) << i;
    EXPECT_EQ(pos[2][i].item<std::int64_t>(), w_axis[i]) << i;
  }
  EXPECT_EQ(next, 11);  // decoding continues at max + 1 on all three axes
  // The same prompt with an image of 4x6 *patches* (2x3 merged tokens): the text resumes at 3 + 3 = 6.
  std::vector<std::int64_t> small{10, 11, 12, kImagePad, kImagePad, kImagePad, kImagePad, kImagePad, kImagePad, 13, 14};
  const Grid g2{1, 2, 3};
  const auto p2 = qwen_rope_positions(small, kImagePad, &g2, &next);
  const std::vector<std::int64_t> h2 = {0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7}, w2 = {0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7};
  for (int i = 0; i < 11; ++i) {
    EXPECT_EQ(p2[1][i].item<std::int64_t>(), h2[i]) << i;
    EXPECT_EQ(p2[2][i].item<std::int64_t>(), w2[i]) << i;
  }
  EXPECT_EQ(next, 8);
  // Text only: plain positions on all axes.
  const auto p3 = qwen_rope_positions({5, 6, 7}, kImagePad, nullptr, &next);
  EXPECT_TRUE(torch::equal(p3, torch::arange(3, torch::kInt64).unsqueeze(0).expand({3, 3})));
  EXPECT_EQ(next, 3);
}

TEST(QwenPositions, RefusesInconsistentImageTokens) {
  const Grid g{1, 2, 2};
  std::int64_t next = 0;
  EXPECT_THROW(qwen_rope_positions({1, kImagePad, kImagePad, kImagePad, 2}, kImagePad, &g, &next), Error);  // 3 of 4
  EXPECT_THROW(qwen_rope_positions({1, kImagePad, kImagePad, 2, kImagePad, kImagePad}, kImagePad, &g, &next), Error);  // split
  EXPECT_THROW(qwen_rope_positions({1, kImagePad, 2}, kImagePad, nullptr, &next), Error);  // no image
}

TEST(QwenWindows, WindowOrderIsAPermutationAndItsInverseRestoresIt) {
  QwenVisionConfig v = tiny_qwen_config().vision;  // windows of 2x2 merged tokens
  // Two images: 10x14 patches (5x7 merged: windows of 2x2, 2x1, 1x2, 1x1) and 4x4 patches (one window).
  const std::vector<Grid> grids{{1, 10, 14}, {1, 4, 4}};
  const auto w = qwen_window_index(grids, v);
  ASSERT_EQ(w.unit_order.size(), 35u + 4u);
  EXPECT_EQ(std::set<std::int64_t>(w.unit_order.begin(), w.unit_order.end()).size(), 39u);
  // First window: units (0,0) (0,1) (1,0) (1,1) of the 5x7 grid; the last window of the first image is
  // its bottom-right corner unit alone; the second image follows with its own offset.
  EXPECT_EQ((std::vector<std::int64_t>(w.unit_order.begin(), w.unit_order.begin() + 4)), (std::vector<std::int64_t>{0, 1, 7, 8}));
  EXPECT_EQ(w.unit_order[34], 34);
  EXPECT_EQ((std::vector<std::int64_t>(w.unit_order.begin() + 35, w.unit_order.end())), (std::vector<std::int64_t>{35, 36, 37, 38}));
  ASSERT_EQ(w.window_patches.size(), 12u + 1u);  // 3 x 4 windows + 1
  EXPECT_EQ(w.window_patches[0], 16);   // 2x2 units x 4 patches
  EXPECT_EQ(w.window_patches[3], 8);    // right edge: 2x1 units
  EXPECT_EQ(w.window_patches[11], 4);   // corner: 1 unit
  EXPECT_EQ(w.frame_patches, (std::vector<std::int64_t>{140, 16}));
  std::int64_t sum = 0;
  for (auto n : w.window_patches) sum += n;
  EXPECT_EQ(sum, 156);
  // Reordering then applying the inverse gives back every row exactly.
  const auto x = torch::randn({39, 5});
  const auto order = torch::tensor(w.unit_order, torch::kInt64);
  const auto back = torch::tensor(inverse_permutation(w.unit_order), torch::kInt64);
  EXPECT_TRUE(torch::equal(x.index_select(0, order).index_select(0, back), x));
  EXPECT_THROW(inverse_permutation({0, 0, 1}), Error);
}

TEST(QwenWindows, WindowedTowerEqualsFullAttentionWhenOneWindowCoversTheImage) {
  // Same weights, two configurations: (a) every block windowed, with windows larger than the image
  // (reordering still happens: units are walked window by window) and (b) every block full attention.
  // Equal outputs show that the reordering is undone exactly; a small window (c) changes the result.
  auto cfg = tiny_qwen_config();
  cfg.vision.fullatt_block_indexes = {};
  cfg.vision.window_size = 56 * 8;
  auto a = tiny_qwen(3, cfg);
  cfg.vision.fullatt_block_indexes = {0, 1};
  auto b = tiny_qwen(3, cfg);
  cfg.vision.fullatt_block_indexes = {};
  cfg.vision.window_size = 56;
  auto c = tiny_qwen(3, cfg);
  torch::NoGradGuard g;
  const Image img = pattern_image(150, 100, 4);  // 4x5 merged tokens: windows of 2x2 do not tile it evenly
  const auto in = a->preprocess({&img});
  const auto ea = a->encode_images(in).embeds, eb = b->encode_images(in).embeds, ec = c->encode_images(in).embeds;
  EXPECT_LT((ea - eb).abs().max().item<double>(), 1e-5);
  EXPECT_GT((ea - ec).abs().max().item<double>(), 1e-3);
}

TEST(QwenVision, ImagesEncodedTogetherEqualImagesAlone) {
  auto q = tiny_qwen(5);
  torch::NoGradGuard g;
  const Image i1 = pattern_image(90, 60, 1), i2 = pattern_image(60, 130, 2), i3 = pattern_image(90, 60, 3);
  const auto together = q->encode_images(q->preprocess({&i1, &i2, &i3}));
  ASSERT_EQ(together.images(), 3);
  const Image* each[3] = {&i1, &i2, &i3};
  for (int i = 0; i < 3; ++i) {
    const auto alone = q->encode_images(q->preprocess({each[i]}));
    ASSERT_EQ(alone.tokens(0), together.tokens(i));
    EXPECT_LT((alone.embeds - together.embeds.narrow(0, together.offsets[i], together.tokens(i))).abs().max().item<double>(), 1e-5) << i;
  }
}

// ---- the policy: cache, batches, gradients ------------------------------------------------------------------

TEST(QwenPolicy, CachedDecodingEqualsFullRecomputation) {
  auto q = tiny_qwen(2);
  torch::NoGradGuard g;
  const Image img = pattern_image(84, 56, 9);
  const auto vis = q->encode_images(q->preprocess({&img}));
  const auto n = vis.tokens(0);
  ASSERT_EQ(n, 6);
  PromptBatch pb{{with_image({1, 2, 3}, n, {7, 8, 9})}, {0}};
  KVCache cache;
  auto logits = q->prefill(pb, vis, cache, 4);
  std::int64_t expect_next = 0;
  q->prompt_positions(pb.tokens[0], &vis.grid[0], &expect_next);
  EXPECT_EQ(cache.next_pos[0].item<std::int64_t>(), expect_next);
  std::vector<std::int64_t> completion;
  std::vector<torch::Tensor> step_logits;
  for (int step = 0; step < 40; ++step) {
    step_logits.push_back(logits[0].clone());
    const auto tok = logits[0].argmax().item<std::int64_t>() % 250;  // stay below the special tokens
    completion.push_back(tok);
    logits = q->decode_step(cache, torch::tensor({tok}, torch::kInt64));
  }
  CompletionBatch c{torch::tensor(completion, torch::kInt64).unsqueeze(0), torch::ones({1, 40}, torch::kBool)};
  const auto full = q->decoder().logits(q->completion_hidden(pb, vis, c))[0];
  for (int step = 0; step < 40; ++step) {
    ASSERT_LT((full[step] - step_logits[step]).abs().max().item<double>(), 1e-4) << "step " << step;
  }
}

TEST(QwenPolicy, BatchWithPaddingAndExpandedCacheEqualRowsAlone) {
  auto q = tiny_qwen(4);
  torch::NoGradGuard g;
  const Image i1 = pattern_image(84, 56, 1), i2 = pattern_image(60, 130, 2);
  const auto vis = q->encode_images(q->preprocess({&i1, &i2}));
  PromptBatch batch{{with_image({1, 2, 3}, vis.tokens(0), {9}), with_image({1, 2, 3, 4, 5}, vis.tokens(1), {9, 10, 11})}, {0, 1}};
  KVCache cache;
  const auto batched = q->prefill(batch, vis, cache);
  auto expanded = cache.expand(2);
  const auto next = torch::tensor({5, 5, 6, 6}, torch::kInt64);
  const auto stepped = q->decode_step(expanded, next);
  for (int r = 0; r < 2; ++r) {
    PromptBatch one{{batch.tokens[r]}, {batch.image[r]}};
    KVCache c1;
    const auto single = q->prefill(one, vis, c1);
    EXPECT_LT((single[0] - batched[r]).abs().max().item<double>(), 1e-4) << "row " << r;
    const auto s2 = q->decode_step(c1, next.narrow(0, 2 * r, 1));
    EXPECT_LT((s2[0] - stepped[2 * r]).abs().max().item<double>(), 1e-4) << "row " << r;
    EXPECT_LT((s2[0] - stepped[2 * r + 1]).abs().max().item<double>(), 1e-4) << "row " << r;
  }
}

TEST(QwenPolicy, GradientsReachBothTowers) {
  auto q = tiny_qwen(6);
  q->train();
  const Image img = pattern_image(84, 56, 9);
  const auto vis = q->encode_images(q->preprocess({&img}));
  PromptBatch pb{{with_image({1, 2}, vis.tokens(0), {3})}, {0}};
  CompletionBatch c{torch::tensor({{4, 5, 6}}, torch::kInt64), torch::ones({1, 3}, torch::kBool)};
  q->token_logprobs(pb, vis, c).sum().backward();
  for (const auto& p : q->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  EXPECT_GT(q->vision()->patch_embed->proj->weight.grad().abs().sum().item<double>(), 0.0);
}

// ---- configuration and loading ------------------------------------------------------------------------------

TEST(QwenConfig, ReadsEveryTransformersLayout) {
  // Before transformers 4.50: text settings at the top level, rope_scaling with "type": "mrope".
  const auto old_style = nlohmann::json::parse(R"({
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
    "vocab_size": 266, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 48, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": false,
    "hidden_act": "silu", "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}, "image_token_id": 261,
    "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "in_chans": 3,
                      "out_hidden_size": 32, "window_size": 56, "fullatt_block_indexes": [1], "hidden_act": "silu"}})");
  // transformers 5: text settings in text_config, rotary settings in rope_parameters.
  const auto new_style = nlohmann::json::parse(R"({
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "image_token_id": 261,
    "text_config": {"vocab_size": 266, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "num_key_value_heads": 2, "intermediate_size": 48, "rms_norm_eps": 1e-6, "tie_word_embeddings": false,
                    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 1, 1]}},
    "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "in_channels": 3,
                      "out_hidden_size": 32, "window_size": 56, "fullatt_block_indexes": [1]}})");
  const auto a = Qwen2_5_VLConfig::from_json(old_style, "old/config.json");
  const auto b = Qwen2_5_VLConfig::from_json(new_style, "new/config.json");
  for (const auto* c : {&a, &b}) {
    EXPECT_EQ(c->text.vocab_size, 266);
    EXPECT_EQ(c->text.num_kv_heads, 2);
    EXPECT_EQ(c->text.rope_theta, 1e6);
    EXPECT_EQ(c->text.mrope_section, (std::vector<std::int64_t>{2, 1, 1}));
    EXPECT_FALSE(c->text.tie_word_embeddings);
    EXPECT_EQ(c->vision.window_size, 56);
    EXPECT_EQ(c->vision.fullatt_block_indexes, (std::vector<std::int64_t>{1}));
    EXPECT_EQ(c->image_token_id, 261);
  }
  // Round trip through our own writer.
  const auto c = Qwen2_5_VLConfig::from_json(a.to_json(), "written");
  EXPECT_EQ(c.text.to_json(), a.text.to_json());
  EXPECT_EQ(c.vision.to_json(), a.vision.to_json());
  // Errors name the key.
  auto broken = old_style;
  broken["vision_config"]["num_heads"] = 5;
  try {
    Qwen2_5_VLConfig::from_json(broken, "bad/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_heads"), std::string::npos) << e.what();
  }
  broken = old_style;
  broken.erase("rope_scaling");
  EXPECT_THROW(Qwen2_5_VLConfig::from_json(broken, "bad/config.json"), Error);
  broken = old_style;
  broken["rope_scaling"]["type"] = "yarn";
  EXPECT_THROW(Qwen2_5_VLConfig::from_json(broken, "bad/config.json"), Error);
  broken = old_style;
  broken["vision_config"]["out_hidden_size"] = 64;
  EXPECT_THROW(Qwen2_5_VLConfig::from_json(broken, "bad/config.json"), Error);
}

namespace {

// Writes the model's tensors under checkpoint names (optionally dropping or reshaping one).
void write_checkpoint(const Policy& p, const fs::path& file, const NameMap& names, const std::string& drop = "",
                      const std::string& reshape = "", StDtype dtype = StDtype::F32) {
  std::vector<torch::Tensor> keep;
  std::vector<StTensorToWrite> out;
  for (const auto& item : p.named_parameters()) {
    const std::string key = names(item.key());
    if (key == drop) continue;
    auto t = item.value().detach().to(to_torch_dtype(dtype)).contiguous();
    if (key == reshape) t = t.reshape({-1});
    keep.push_back(t);
    out.push_back({key, dtype, t.sizes().vec(), t.data_ptr(), static_cast<std::uint64_t>(t.nbytes())});
  }
  write_safetensors(file, out, {{"format", "pt"}});
}

void write_qwen_dir(const fs::path& dir, const Policy& p, const nlohmann::json& config) {
  fs::create_directories(dir);
  write_file_atomic(dir / "config.json", config.dump(2));
  write_file_atomic(dir / "preprocessor_config.json", tiny_image_config().to_json().dump(2));
  write_file_atomic(dir / "tokenizer.json", read_file(test::source_dir() / "resources/tokenizers/hawkeye-byte/tokenizer.json"));
  write_checkpoint(p, dir / "model.safetensors", qwen_checkpoint_names());
}

}  // namespace

TEST(QwenLoading, BothCheckpointLayoutsLoadAndBf16BecomesFloat32) {
  test::TempDir tmp;
  auto q = tiny_qwen(8);
  const auto config = q->config().to_json();
  write_qwen_dir(tmp.path() / "old", *q, config);
  write_qwen_dir(tmp.path() / "new", *q, config);
  // transformers >= 4.52 names, stored in bf16 (as hub checkpoints are).
  const auto nested = qwen_checkpoint_names({"model.language_model.embed_tokens.weight"});
  EXPECT_EQ(nested("lm.model.layers.0.self_attn.q_proj.weight"), "model.language_model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(nested("visual.blocks.0.attn.qkv.weight"), "model.visual.blocks.0.attn.qkv.weight");
  EXPECT_EQ(nested("lm.lm_head.weight"), "lm_head.weight");
  const auto flat = qwen_checkpoint_names();
  EXPECT_EQ(flat("lm.model.norm.weight"), "model.norm.weight");
  EXPECT_EQ(flat("visual.merger.mlp.0.weight"), "visual.merger.mlp.0.weight");
  write_checkpoint(*q, tmp.path() / "new" / "model.safetensors", nested, "", "", StDtype::BF16);

  const auto a = load_policy(read_model_dir(tmp.path() / "old"));
  const auto b = load_policy(read_model_dir(tmp.path() / "new"));
  const auto params_a = a->named_parameters(), params_b = b->named_parameters();
  for (const auto& item : q->named_parameters()) {
    const auto& pa = params_a[item.key()];
    const auto& pb = params_b[item.key()];
    EXPECT_TRUE(torch::equal(pa, item.value())) << item.key();
    EXPECT_EQ(pb.scalar_type(), torch::kFloat32) << item.key();
    EXPECT_TRUE(torch::equal(pb, item.value().to(torch::kBFloat16).to(torch::kFloat32))) << item.key();
  }
  // The image limits come from preprocessor_config.json.
  EXPECT_EQ(dynamic_cast<const Qwen2_5_VL&>(*a).image_config().max_pixels, tiny_image_config().max_pixels);
  // A preprocessor whose patch geometry is not the vision tower's is refused, naming the file.
  auto pre = tiny_image_config().to_json();
  pre["patch_size"] = 16;
  write_file_atomic(tmp.path() / "old" / "preprocessor_config.json", pre.dump());
  try {
    load_policy(read_model_dir(tmp.path() / "old"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model);
    EXPECT_NE(std::string(e.what()).find("preprocessor_config.json"), std::string::npos) << e.what();
  }
}

TEST(QwenLoading, RefusesMissingAndMisshapedTensorsByName) {
  test::TempDir tmp;
  auto q = tiny_qwen(8);
  write_qwen_dir(tmp.path() / "m", *q, q->config().to_json());
  const auto names = qwen_checkpoint_names();
  auto expect_error = [&](const std::string& drop, const std::string& reshape, const std::string& words) {
    write_checkpoint(*q, tmp.path() / "m" / "model.safetensors", names, drop, reshape);
    try {
      load_policy(read_model_dir(tmp.path() / "m"));
      ADD_FAILURE() << "accepted a checkpoint: " << words;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::model);
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_error("visual.blocks.1.attn.qkv.bias", "", "missing tensors: visual.blocks.1.attn.qkv.bias");
  expect_error("lm_head.weight", "", "missing tensors: lm_head.weight");
  expect_error("", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight (checkpoint [1536], model [48, 32])");
  expect_error("", "visual.patch_embed.proj.weight", "wrong shape: visual.patch_embed.proj.weight");
}

TEST(QwenLoading, TiedModelsAcceptAStoredOutputHeadButNothingElse) {
  test::TempDir tmp;
  auto cfg = tiny_qwen_config();
  cfg.text.tie_word_embeddings = true;
  auto q = tiny_qwen(10, cfg);
  write_qwen_dir(tmp.path() / "tied", *q, q->config().to_json());
  EXPECT_NO_THROW(load_policy(read_model_dir(tmp.path() / "tied")));
  // Some tied checkpoints also store lm_head.weight (a copy of the embeddings): accepted, unused.
  const auto names = qwen_checkpoint_names();
  auto write_with_extra = [&](const std::string& extra) {
    std::vector<torch::Tensor> keep;
    std::vector<StTensorToWrite> out;
    for (const auto& item : q->named_parameters()) {
      auto t = item.value().detach().contiguous();
      keep.push_back(t);
      out.push_back({names(item.key()), StDtype::F32, t.sizes().vec(), t.data_ptr(), static_cast<std::uint64_t>(t.nbytes())});
    }
    auto head = q->decoder().named_parameters()["model.embed_tokens.weight"].detach().contiguous();
    keep.push_back(head);
    out.push_back({extra, StDtype::F32, head.sizes().vec(), head.data_ptr(), static_cast<std::uint64_t>(head.nbytes())});
    write_safetensors(tmp.path() / "tied" / "model.safetensors", out);
  };
  write_with_extra("lm_head.weight");
  const auto p = load_policy(read_model_dir(tmp.path() / "tied"));
  EXPECT_TRUE(torch::equal(p->decoder().named_parameters()["model.embed_tokens.weight"],
                           q->decoder().named_parameters()["model.embed_tokens.weight"]));
  write_with_extra("model.extra_head.weight");
  try {
    load_policy(read_model_dir(tmp.path() / "tied"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not have: model.extra_head.weight"), std::string::npos) << e.what();
  }
}

TEST(QwenLoading, DirectoryWithoutHawkeyeJsonGetsTheDefaultContract) {
  test::TempDir tmp;
  auto q = tiny_qwen(8);
  write_qwen_dir(tmp.path() / "Qwen2.5-VL-tiny", *q, q->config().to_json());
  const auto md = read_model_dir(tmp.path() / "Qwen2.5-VL-tiny");
  EXPECT_TRUE(md.default_contract);
  EXPECT_EQ(md.contract.model_id, "Qwen2.5-VL-tiny");
  EXPECT_EQ(md.contract.prompt, "qhawkeye-infer");
  EXPECT_EQ(md.contract.score_min, 1.0);
  EXPECT_EQ(md.contract.score_max, 5.0);
  // hawkeye.json's image limits win over preprocessor_config.json's.
  write_file_atomic(tmp.path() / "Qwen2.5-VL-tiny" / "hawkeye.json",
                    R"({"model_id": "t", "prompt": "qhawkeye-infer", "image": {"max_pixels": 6272}})");
  const auto p = load_policy(read_model_dir(tmp.path() / "Qwen2.5-VL-tiny"));
  EXPECT_EQ(dynamic_cast<const Qwen2_5_VL&>(*p).image_config().max_pixels, 6272);
  // Other architectures still need hawkeye.json.
  auto cfg = nlohmann::json::parse(read_file(tmp.path() / "Qwen2.5-VL-tiny" / "config.json"));
  fs::remove(tmp.path() / "Qwen2.5-VL-tiny" / "hawkeye.json");
  cfg["architectures"] = {"SomethingElse"};
  write_file_atomic(tmp.path() / "Qwen2.5-VL-tiny" / "config.json", cfg.dump());
  try {
    read_model_dir(tmp.path() / "Qwen2.5-VL-tiny");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("hawkeye.json"), std::string::npos) << e.what();
  }
}

TEST(QwenLoading, SavedModelDirectoryLoadsBackWithItsImageLimits) {
  test::TempDir tmp;
  auto q = tiny_qwen(9);
  write_file_atomic(tmp.path() / "tok.json", read_file(test::source_dir() / "resources/tokenizers/hawkeye-byte/tokenizer.json"));
  save_model_dir(tmp.path() / "saved", *q, q->config().to_json(), default_qwen_contract("saved"), tmp.path() / "tok.json");
  const auto md = read_model_dir(tmp.path() / "saved");
  EXPECT_FALSE(md.default_contract);  // hawkeye.json was written
  const auto p = load_policy(md);
  EXPECT_EQ(dynamic_cast<const Qwen2_5_VL&>(*p).image_config().max_pixels, tiny_image_config().max_pixels);
  const auto mine = q->named_parameters(), theirs = p->named_parameters();
  for (const auto& item : mine) EXPECT_TRUE(torch::equal(item.value(), theirs[item.key()])) << item.key();
  // Written under the names of the published checkpoints (transformers < 4.52 layout).
  const auto set = SafetensorsSet::open(tmp.path() / "saved");
  EXPECT_NE(set.find("visual.merger.mlp.2.bias"), nullptr);
  EXPECT_NE(set.find("model.layers.1.self_attn.k_proj.bias"), nullptr);
  EXPECT_NE(set.find("lm_head.weight"), nullptr);
}

TEST(QwenLoading, DescribeReadsHeadersWithoutBuildingTheModel) {
  // A 7B-shaped config.json with a one-tensor checkpoint: building the model would take ~30 GB and
  // minutes; describing it must not.
  test::TempDir tmp;
  const auto dir = tmp.path() / "big";
  fs::create_directories(dir);
  Qwen2_5_VLConfig c;  // defaults: Qwen2.5-VL-7B's vision tower
  c.text.vocab_size = 152064;
  c.text.hidden_size = 3584;
  c.text.num_layers = 28;
  c.text.num_heads = 28;
  c.text.num_kv_heads = 4;
  c.text.intermediate_size = 18944;
  c.text.rope_theta = 1e6;
  c.text.tie_word_embeddings = false;
  c.text.mrope_section = {16, 24, 24};
  write_file_atomic(dir / "config.json", c.to_json().dump());
  write_file_atomic(dir / "tokenizer.json", "{}");
  std::vector<std::uint16_t> w(10, 0);
  write_safetensors(dir / "model.safetensors", {{"lm_head.weight", StDtype::BF16, {2, 5}, w.data(), 20}});
  const auto t0 = std::chrono::steady_clock::now();
  const auto info = describe_model_dir(dir);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_EQ(info["architecture"], "Qwen2_5_VLForConditionalGeneration");
  EXPECT_EQ(info["parameters"].get<std::int64_t>(), 10);
  EXPECT_EQ(info["contract"], "default (no hawkeye.json)");
  // 1024x768 -> smart_resize 1036x756 -> 37x27 = 999 visual tokens (transformers' defaults: max 1003520 pixels).
  EXPECT_EQ(info["per_image_1024x768"]["visual_tokens"].get<std::int64_t>(), 999);
  EXPECT_GT(info["per_image_1024x768"]["gflops_per_image"].get<double>(), 1000.0);
  // 28 layers x 4 kv heads x 128 x (k + v) x 2 bytes = 56 KB per token.
  EXPECT_DOUBLE_EQ(info["kv_cache_kb_per_token"].get<double>(), 56.0);
}

TEST(QwenLoading, IqaModelScoresThroughTheSharedPipeline) {
  test::TempDir tmp;
  auto q = tiny_qwen(8);
  write_qwen_dir(tmp.path() / "m", *q, q->config().to_json());
  write_file_atomic(tmp.path() / "m" / "hawkeye.json",
                    R"({"model_id": "tiny-qwen", "prompt": {"preset": "qhawkeye-infer", "system": "Rate.", "user": "Quality?"},
                        "sampling": {"max_new_tokens": 6}})");
  auto model = IqaModel::load((tmp.path() / "m").string());
  const Image img = pattern_image(100, 70, 2);
  const auto& ids = model.prompt_ids(img.width, img.height);
  const Grid g = model.policy().visual_grid(img.width, img.height);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImagePad), g[1] * g[2]);
  auto opts = default_score_options(model, 0, 1);
  const auto scores = score_images(model, {&img, &img}, opts);
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0].completion, scores[1].completion);  // greedy: the same image, the same answer
  EXPECT_GT(scores[0].tokens, 0);
}

TEST(Device, ParsesDeviceNames) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_THROW(parse_device("gpu"), Error);
  EXPECT_THROW(parse_device("cuda:x"), Error);
  EXPECT_THROW(parse_device("cuda:-1"), Error);
  if (!torch::cuda::is_available()) {
    try {
      parse_device("cuda");
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unsupported);
    }
  } else {
    EXPECT_TRUE(parse_device("cuda").is_cuda());
  }
}

// The Q-Hawkeye trainer takes a Qwen2.5-VL checkpoint through the same Policy interface: SFT, then GRPO with
// degraded twins (reference KL + perception loss), in float32 and in bfloat16 (the dtype of a GPU run, with
// float32 master weights); the trained directories load back and score.
TEST(QwenTraining, SftThenGrpoOnAQwenCheckpointInFloat32AndBfloat16) {
  test::TinyTrainingSetup s(true);
  auto q = tiny_qwen(8);
  const auto base = s.dir.path() / "qwen";
  write_qwen_dir(base, *q, q->config().to_json());
  write_file_atomic(base / "hawkeye.json", R"({"model_id": "tiny-qwen", "prompt": {"preset": "qhawkeye-infer", "system": "Rate.",
                        "user": "Quality?"}, "sampling": {"max_new_tokens": 8}})");
  for (const std::string dtype : {"float32", "bfloat16"}) {
    SCOPED_TRACE(dtype);
    const auto data = "[data]\ntrain = \"" + s.train.string() + "\"\nval = \"" + s.test.string() + "\"\nval_max = 4\nval_batch = 4\n";
    const auto run = [&](const std::string& name, const fs::path& init) {
      return "[model]\ninit = \"" + init.string() + "\"\n" + data + "[run]\ndir = \"" + (s.dir.path() / (name + dtype)).string() +
             "\"\nseed = 5\nthreads = 1\nlog_every = 1\ndtype = \"" + dtype + "\"\n";
    };
    const auto sft = rl::train(Config::parse_toml(run("sft-", base) + "[train]\nsteps = 2\nbatch_size = 2\nlr = 1e-3\nwarmup_steps = 0\n"
                                                                       "val_every = 2\ncheckpoint_every = 0\n",
                                                  "sft.toml"),
                               "sft");
    ASSERT_FALSE(sft.final_model.empty());
    const auto grpo = rl::train(Config::parse_toml(run("grpo-", sft.final_model) +
                                                       "[train]\nsteps = 2\nbatch_size = 2\ngrad_accum = 1\nlr = 1e-3\nwarmup_steps = 0\n"
                                                       "val_every = 0\ncheckpoint_every = 0\n[rollout]\nk = 2\nmax_new_tokens = 8\n"
                                                       "[loss]\ngamma0 = 0.01\n",
                                                   "grpo.toml"),
                                "grpo");
    ASSERT_EQ(grpo.steps, 2);
    for (const auto& j : test::read_step_metrics(s.dir.path() / ("grpo-" + dtype))) {
      EXPECT_TRUE(std::isfinite(j["loss"].get<double>())) << j.dump();
      EXPECT_FALSE(j["skipped"].get<bool>()) << j.dump();
      EXPECT_TRUE(j.contains("kl_prcp") && j.contains("kl_ref")) << j.dump();
    }
    auto trained = IqaModel::load(grpo.final_model.string());
    const Image img = pattern_image(64, 48, 3);
    EXPECT_EQ(score_images(trained, {&img}, default_score_options(trained, 0, 1)).size(), 1u);
    // training changed the language model and the vision tower
    const auto before = SafetensorsSet::open(base), after = SafetensorsSet::open(grpo.final_model);
    double lm = 0, vision = 0;
    for (const auto& n : after.names()) {
      const auto* e = before.find(n);
      ASSERT_NE(e, nullptr) << n;  // saved under the checkpoint's own names
      const double d = (tensor_from_entry(*after.find(n), torch::kFloat64) - tensor_from_entry(*e, torch::kFloat64)).abs().max().item<double>();
      (n.find("visual") != std::string::npos ? vision : lm) = std::max(n.find("visual") != std::string::npos ? vision : lm, d);
    }
    EXPECT_GT(lm, 0.0);
    EXPECT_GT(vision, 0.0);
  }
}

// load_policy builds a model under a SkipInitGuard: the same parameters and buffers, shapes and dtypes, only
// not drawn at random; the guard is scoped; loading through it gives the same model as before.
TEST(QwenLoading, SkipInitBuildsTheSameModuleTreeAndLoadsTheSameWeights) {
  const auto c = tiny_qwen_config();
  auto plain = std::make_shared<Qwen2_5_VL>(c, tiny_image_config());
  std::shared_ptr<Qwen2_5_VL> skipped;
  EXPECT_FALSE(init_skipped());
  {
    SkipInitGuard g;
    EXPECT_TRUE(init_skipped());
    {
      SkipInitGuard nested;
    }
    EXPECT_TRUE(init_skipped());  // nesting restores the outer state
    skipped = std::make_shared<Qwen2_5_VL>(c, tiny_image_config());
  }
  EXPECT_FALSE(init_skipped());
  auto a = plain->named_parameters(true), b = skipped->named_parameters(true);
  for (const auto& x : plain->named_buffers(true)) a.insert(x.key(), x.value());
  for (const auto& x : skipped->named_buffers(true)) b.insert(x.key(), x.value());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    const auto* other = b.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_EQ(other->sizes(), item.value().sizes()) << item.key();
    EXPECT_EQ(other->scalar_type(), item.value().scalar_type()) << item.key();
    EXPECT_EQ(other->requires_grad(), item.value().requires_grad()) << item.key();
  }
  // Through load_policy (which uses the guard): identical to the written weights.
  test::TempDir tmp;
  auto q = tiny_qwen(4);
  write_qwen_dir(tmp.path() / "m", *q, q->config().to_json());
  const auto loaded = IqaModel::load((tmp.path() / "m").string());
  const auto want = q->named_parameters(true);
  for (const auto& item : loaded.policy().named_parameters(true)) {
    EXPECT_TRUE(torch::equal(item.value(), *want.find(item.key()))) << item.key();
  }
}
