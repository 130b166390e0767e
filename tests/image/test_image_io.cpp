#include <time.h>

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <fstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/inputs.h"
#include "hawkeye/image/io.h"
#include "image_fixtures.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

Image gradient(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.at(x, y, 0) = static_cast<std::uint8_t>(x * 255 / std::max(1, w - 1));
      img.at(x, y, 1) = static_cast<std::uint8_t>(y * 255 / std::max(1, h - 1));
      img.at(x, y, 2) = 77;
    }
  return img;
}

ErrorCode decode_error(const std::string& bytes, std::string* message = nullptr, const ImageLimits& lim = {}) {
  try {
    decode_image(bytes, lim, "x");
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "decoding succeeded";
  return ErrorCode::internal;
}

}  // namespace

TEST(ImageIo, PngRoundTripIsExact) {
  const Image img = gradient(37, 21);
  EXPECT_EQ(decode_image(encode_image(img, "png")), img);
  EXPECT_EQ(decode_image(encode_image(img, "bmp")), img);
}

TEST(ImageIo, JpegDecodesToRgbOfTheSameSize) {
  const Image img = gradient(64, 48);
  const Image back = decode_image(encode_image(img, "jpeg", 95));
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 48);
  ASSERT_EQ(back.channels, 3);
  // red grows along x, green along y: channel order survived
  EXPECT_LT(back.at(2, 24, 0), back.at(61, 24, 0));
  EXPECT_LT(back.at(32, 2, 1), back.at(32, 45, 1));
}

TEST(ImageIo, ConvertsGreyAlphaSixteenBitAndPalette) {
  for (int type : {0, 2, 3, 4, 6}) {
    for (int depth : {8, 16}) {
      if (type == 3 && depth == 16) continue;
      const std::string png = test::make_png(9, 5, type, depth);
      const ImageHeader h = probe_image(png);
      EXPECT_EQ(h.bit_depth, depth);
      const Image img = decode_image(png);
      ASSERT_EQ(img.channels, 3) << "type " << type;
      ASSERT_EQ(img.width, 9);
      ASSERT_EQ(img.height, 5);
      if (type == 0 || type == 4) {
        EXPECT_EQ(img.at(3, 2, 0), (3 * 16 + 2 * 8) % 256);
        EXPECT_EQ(img.at(3, 2, 0), img.at(3, 2, 2));
      } else if (type == 2 || type == 6) {
        EXPECT_EQ(img.at(3, 2, 0), (3 * 16 + 2 * 8) % 256) << "type " << type << " depth " << depth;
        EXPECT_EQ(img.at(3, 2, 1), (3 * 16 + 2 * 8 + 40) % 256);
      } else {
        // palette index (x + y) % 4 -> red, green, blue, grey
        EXPECT_EQ(img.at(0, 0, 0), 255);
        EXPECT_EQ(img.at(1, 0, 1), 255);
        EXPECT_EQ(img.at(2, 0, 2), 255);
      }
    }
  }
}

TEST(ImageIo, AppliesExifOrientation) {
  const Image img = gradient(40, 20);
  const std::string jpeg = encode_image(img, "jpeg", 95);
  EXPECT_EQ(probe_image(test::jpeg_with_orientation(jpeg, 6)).exif_orientation, 6);
  const Image rotated = decode_image(test::jpeg_with_orientation(jpeg, 6));
  EXPECT_EQ(rotated.width, 20);
  EXPECT_EQ(rotated.height, 40);
  // orientation 6 = rotate 90 degrees clockwise: the original's left column becomes the top row
  EXPECT_LT(rotated.at(10, 1, 0), 40);
  EXPECT_GT(rotated.at(10, 38, 0), 200);
  const Image upright = decode_image(test::jpeg_with_orientation(jpeg, 1));
  EXPECT_EQ(upright.width, 40);
}

TEST(ImageIo, RefusesHugeHeaderWithoutDecoding) {
  const std::string png = test::make_png_header_only(100000, 100000);
  std::string msg;
  EXPECT_EQ(decode_error(png, &msg), ErrorCode::limit_exceeded);  // once untimed: the process's first throw
  // This thread's CPU time, not wall time (a busy machine may deschedule it): decoding 10^10 pixels would take
  // minutes and 30 GB; refusing from the header takes microseconds.
  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
  };
  const double t0 = cpu_ms();
  EXPECT_EQ(decode_error(png, &msg), ErrorCode::limit_exceeded);
  const double ms = cpu_ms() - t0;
  EXPECT_LT(ms, 50.0);
  EXPECT_NE(msg.find("100000x100000"), std::string::npos) << msg;
  ImageLimits small;
  small.max_pixels = 100;
  EXPECT_EQ(decode_error(test::make_png(20, 20, 2), nullptr, small), ErrorCode::limit_exceeded);
  ImageLimits tiny_file;
  tiny_file.max_file_bytes = 10;
  EXPECT_EQ(decode_error(test::make_png(20, 20, 2), nullptr, tiny_file), ErrorCode::limit_exceeded);
}

// A model's aspect-ratio limit refuses a strip from its header (a 270-byte 65535x1 PNG once took 14.5 GB);
// the limit is inclusive, and 0 means none.
TEST(ImageIo, AspectRatioLimitRefusesLongStripsBeforeDecoding) {
  ImageLimits lim;
  lim.max_aspect_ratio = 64;
  std::string msg;
  EXPECT_EQ(decode_error(test::make_png_header_only(65535, 1), &msg, lim), ErrorCode::limit_exceeded);
  EXPECT_NE(msg.find("65535x1 png is more elongated than the limit of 64:1"), std::string::npos) << msg;
  EXPECT_EQ(decode_error(test::make_png_header_only(1, 65), nullptr, lim), ErrorCode::limit_exceeded);
  EXPECT_EQ(decode_image(test::make_png(64, 1, 2), lim).width, 64);
  EXPECT_EQ(decode_image(test::make_png(2, 128, 2), lim).height, 128);
  EXPECT_EQ(decode_image(test::make_png(65, 1, 2)).width, 65);  // no limit by default
}

// An output is never written over a picture unless asked: by extension, or by signature whatever the name.
TEST(ImageIo, IsImageFileByExtensionOrSignature) {
  test::TempDir dir;
  const auto d = dir.path();
  write_file_atomic(d / "a.png", test::make_png(4, 4, 2));
  write_file_atomic(d / "photo.dat", test::make_png(4, 4, 2));
  write_file_atomic(d / "big-header.bin", test::make_png_header_only(100000, 100000));
  write_file_atomic(d / "empty.jpg", "");
  write_file_atomic(d / "scores.jsonl", "{\"path\":\"a.png\"}\n");
  write_file_atomic(d / "empty", "");
  fs::create_directories(d / "folder.png");
  EXPECT_TRUE(is_image_file(d / "a.png"));
  EXPECT_TRUE(is_image_file(d / "photo.dat"));
  EXPECT_TRUE(is_image_file(d / "big-header.bin"));
  EXPECT_TRUE(is_image_file(d / "empty.jpg"));
  EXPECT_FALSE(is_image_file(d / "scores.jsonl"));
  EXPECT_FALSE(is_image_file(d / "empty"));
  EXPECT_FALSE(is_image_file(d / "folder.png"));
  EXPECT_FALSE(is_image_file(d / "missing.png"));
}

TEST(ImageIo, BadInputMatrix) {
  const Image img = gradient(64, 48);
  const std::string jpeg = encode_image(img, "jpeg", 90);
  const std::string png = encode_image(img, "png");
  const std::string bmp = encode_image(img, "bmp");
  std::string msg;

  EXPECT_EQ(decode_error("", &msg), ErrorCode::corrupt_data);
  EXPECT_NE(msg.find("empty"), std::string::npos);

  Rng rng(1);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng() & 0xFF);
  EXPECT_EQ(decode_error(noise, &msg), ErrorCode::unsupported);
  EXPECT_EQ(decode_error("hello, I am a text file\n"), ErrorCode::unsupported);

  EXPECT_EQ(decode_error(jpeg.substr(0, jpeg.size() / 2), &msg), ErrorCode::corrupt_data);
  EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;
  EXPECT_EQ(decode_error(jpeg.substr(0, 40), &msg), ErrorCode::corrupt_data);
  EXPECT_NE(msg.find("JPEG"), std::string::npos) << msg;

  EXPECT_EQ(decode_error(png.substr(0, png.size() - 30), &msg), ErrorCode::corrupt_data);
  EXPECT_NE(msg.find("truncated PNG"), std::string::npos) << msg;
  EXPECT_EQ(decode_error(png.substr(0, 20), &msg), ErrorCode::corrupt_data);

  EXPECT_EQ(decode_error(bmp.substr(0, bmp.size() / 2), &msg), ErrorCode::corrupt_data);
  EXPECT_NE(msg.find("truncated BMP"), std::string::npos) << msg;

  // PNG whose IDAT is garbage: the decoder fails, we report corrupt data
  std::string bad_idat = test::make_png(8, 8, 2);
  const auto idat = bad_idat.find("IDAT");
  for (std::size_t i = idat + 4; i < idat + 40 && i < bad_idat.size(); ++i) bad_idat[i] = '\x55';
  EXPECT_EQ(decode_error(bad_idat), ErrorCode::corrupt_data);

  EXPECT_EQ(decode_error(std::string("GIF89a\x10\x00\x10\x00", 10) + std::string(50, '\0')), ErrorCode::corrupt_data);  // a GIF header without image data
}

TEST(ImageIo, FuzzedTruncationsNeverCrash) {
  const Image img = gradient(32, 24);
  for (const char* fmt : {"png", "jpeg", "bmp"}) {
    const std::string full = encode_image(img, fmt, 80);
    for (std::size_t n = 0; n < full.size(); n += 7) {
      try {
        decode_image(full.substr(0, n));
      } catch (const Error&) {
      }
    }
    Rng rng(9);
    for (int trial = 0; trial < 200; ++trial) {
      std::string mutated = full;
      for (int k = 0; k < 4; ++k) mutated[rng.below(mutated.size())] = static_cast<char>(rng() & 0xFF);
      try {
        decode_image(mutated);
      } catch (const Error&) {
      }
    }
  }
}

TEST(ImageIo, LoadImageFileErrors) {
  test::TempDir dir;
  auto code_of = [](const fs::path& p) {
    try {
      load_image(p);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal;
  };
  EXPECT_EQ(code_of(dir.path() / "missing.png"), ErrorCode::not_found);
  EXPECT_EQ(code_of(dir.path()), ErrorCode::invalid_argument);
  write_file_atomic(dir.path() / "empty.png", "");
  EXPECT_EQ(code_of(dir.path() / "empty.png"), ErrorCode::corrupt_data);
  save_image(dir.path() / "ok.png", gradient(10, 10));
  save_image(dir.path() / "ok.jpg", gradient(10, 10));
  save_image(dir.path() / "ok.bmp", gradient(10, 10));
  EXPECT_EQ(load_image(dir.path() / "ok.png"), gradient(10, 10));
  EXPECT_EQ(load_image(dir.path() / "ok.jpg").width, 10);
  EXPECT_EQ(load_image(dir.path() / "ok.bmp"), gradient(10, 10));
  EXPECT_THROW(save_image(dir.path() / "x.xyz", gradient(2, 2)), Error);
}

TEST(ImageIo, LoadsTheFixturePhotographs) {
  const Image img = load_image(test::fixtures() / "kodak" / "kodim03.png");
  EXPECT_EQ(img.width, 768);
  EXPECT_EQ(img.height, 512);
  const Image bmp = load_image(test::fixtures() / "tid2013_pyiqa_calibra" / "ref_dir" / "I03.bmp");
  EXPECT_EQ(bmp.width, 512);
  EXPECT_EQ(bmp.height, 384);
}

// Issue 18 item 12: `info` said bit_depth 64 for an 8-bit RGB TIFF: BitsPerSample of 3 samples is stored at an
// offset, and the offset was read as the value.
TEST(ImageIo, TiffHeaderGivesTheBitDepthOfRgbAndGrey) {
  for (int channels : {3, 1}) {
    const cv::Mat m(10, 20, channels == 3 ? CV_8UC3 : CV_8UC1, cv::Scalar(10, 20, 30));
    std::vector<unsigned char> buf;
    ASSERT_TRUE(cv::imencode(".tiff", m, buf));
    const ImageHeader h = probe_image(std::string(buf.begin(), buf.end()));
    EXPECT_EQ(h.format, "tiff");
    EXPECT_EQ(h.bit_depth, 8) << channels << " channel(s)";
    EXPECT_EQ(h.channels, channels);
    EXPECT_EQ(h.width, 20);
    EXPECT_EQ(h.height, 10);
  }
}

// read_path_list (`--files-from`): one path per line, CR dropped, empty lines skipped, any byte but NUL kept.
TEST(ImageInputs, PathListReadsOnePathPerLine) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "l.txt", std::string("a.png\r\n\n  spaced name.png\nb\xff.jpg\n*.png"));
  const auto list = read_path_list((dir.path() / "l.txt").string());
  EXPECT_EQ(list, (std::vector<std::string>{"a.png", "  spaced name.png", "b\xff.jpg", "*.png"}));
  auto code_of = [](const std::string& f) {
    try {
      (void)read_path_list(f);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal;
  };
  EXPECT_EQ(code_of((dir.path() / "missing.txt").string()), ErrorCode::not_found);
  EXPECT_EQ(code_of(dir.path().string()), ErrorCode::invalid_argument);
  write_file_atomic(dir.path() / "nul.txt", std::string("a\0b\n", 4));
  EXPECT_EQ(code_of((dir.path() / "nul.txt").string()), ErrorCode::parse);
}

// Found by fuzz/fuzz_image_decoder: a PNM header whose comment starts inside a number reads as 3x6 to hawkeye's
// header check (comments end a number, as Netpbm reads them) but decodes as 3x3 in OpenCV. The limits are checked
// on the header's size, so the two must agree: an ambiguous header is refused.
TEST(ImageIo, AHeaderTheDecoderReadsAsAnotherSizeIsRefused) {
  std::string bytes = "P6\n3#3\n6\n3#3\n##\n\r";
  bytes += std::string(47, 'p') + "\n(##\n\r\n(P";
  ASSERT_EQ(bytes.size(), 73u);
  try {
    hawkeye::decode_image(bytes, {}, "ambiguous.ppm");
    FAIL() << "decoded";
  } catch (const hawkeye::Error& e) {
    EXPECT_EQ(e.code(), hawkeye::ErrorCode::corrupt_data);
    EXPECT_NE(std::string(e.what()).find("ambiguous pnm header"), std::string::npos) << e.what();
  }
}

// fuzz/fuzz_image_decoder found a WebP header that libwebp rejects, with "DICM" at byte 128: cv::imdecode then hands
// it to its DICOM reader (GDCM), which aborts the process. Such data is refused before OpenCV sees it, and so
// (conservatively: OpenCV would try its PNM reader first) is a PNM with the same signature.
TEST(ImageIo, DataThatOpenCvWouldHandToItsDicomReaderIsRefused) {
  const unsigned char webp[] = {
      0x52, 0x49, 0x46, 0x46, 0x16, 0x49, 0x29, 0xd5, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20,
      0x4c, 0x4f, 0x23, 0x23, 0x23, 0x69, 0x2a, 0x9d, 0x01, 0x2a, 0x08, 0x00, 0x05, 0x00, 0x07, 0x30,
      0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x89, 0x50, 0x4e, 0x46, 0x0d, 0x0a, 0x1a, 0x0a,
      0x00, 0x00, 0x00, 0x4a, 0x48, 0x46, 0x00, 0x7a, 0x48, 0x46, 0x44, 0x28, 0x76, 0x00, 0x00, 0x23,
      0x3f, 0x52, 0x47, 0x42, 0x45, 0xff, 0x00, 0x32, 0xf7, 0xe1, 0xd8, 0x45, 0x78, 0x69, 0x66, 0x00,
      0x00, 0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0xfe, 0x00, 0x00,
      0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x7a, 0x48, 0x46, 0xc4, 0xb9, 0xff, 0xfe, 0xb2, 0xff, 0xff, 0xff, 0x7a, 0x48, 0x46, 0x44, 0x46,
      0x44, 0x49, 0x43, 0x4d, 0x66,
  };
  ASSERT_EQ(sizeof webp, 133u);
  std::string pnm = "P5\n4 4\n255\n";
  pnm += std::string(128 - pnm.size(), ' ') + "DICM" + std::string(16, '\x7f');
  for (const auto& [bytes, name] : {std::pair{std::string(reinterpret_cast<const char*>(webp), sizeof webp), "fuzz.webp"},
                                     std::pair{pnm, "dicm.pgm"}}) {
    try {
      hawkeye::decode_image(bytes, {}, name);
      FAIL() << name << " decoded";
    } catch (const hawkeye::Error& e) {
      EXPECT_EQ(e.code(), hawkeye::ErrorCode::corrupt_data) << name;
      EXPECT_NE(std::string(e.what()).find("carries a DICOM signature"), std::string::npos) << e.what();
    }
  }
  // The same PNM without the signature decodes (the check looks at those four bytes only).
  pnm.replace(128, 4, "dicm");
  EXPECT_EQ(hawkeye::decode_image(pnm, {}, "plain.pgm").width, 4);
}
