#include "hawkeye/model/qwen_image_processor.h"

#include <algorithm>
#include <cmath>

#include "hawkeye/core/error.h"
#include "model/qwen_json.h"

namespace hawkeye::model {

namespace {

std::array<double, 3> json_triple(const nlohmann::json& j, const char* key, const std::array<double, 3>& fallback,
                                  const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_array() || it->size() != 3) throw Error(ErrorCode::model, source + ": '" + key + "' must hold 3 numbers");
  std::array<double, 3> out{};
  for (int i = 0; i < 3; ++i) {
    if (!(*it)[i].is_number()) throw Error(ErrorCode::model, source + ": '" + key + "' must hold 3 numbers");
    out[i] = (*it)[i].get<double>();
  }
  return out;
}

// Pillow's bicubic kernel (Resample.c, a = -0.5) and its support.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}
constexpr double kBicubicSupport = 2.0;
constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output pixel: first input index, tap count, and the 22-bit fixed-point weights (Pillow's
// precompute_coeffs + normalize_coeffs_8bpc).
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> k;  // [out, ksize]
};

Coeffs precompute_coeffs(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kBicubicSupport * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation, as in C
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic_filter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<std::size_t>(xx) * c.ksize + x] =
          v < 0 ? static_cast<std::int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<std::int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

Image resample_horizontal(const Image& in, int width) {
  const Coeffs c = precompute_coeffs(in.width, width);
  Image out(width, in.height, in.channels);
  const int ch = in.channels;
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* src = in.row(y);
    std::uint8_t* dst = out.row(y);
    for (int xx = 0; xx < width; ++xx) {
      const std::int32_t* k = &c.k[static_cast<std::size_t>(xx) * c.ksize];
      const int x0 = c.first[xx], n = c.count[xx];
      for (int ci = 0; ci < ch; ++ci) {
        std::int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < n; ++x) ss += static_cast<std::int32_t>(src[(x0 + x) * ch + ci]) * k[x];
        dst[xx * ch + ci] = clip8(ss);
      }
    }
  }
  return out;
}

Image resample_vertical(const Image& in, int height) {
  const Coeffs c = precompute_coeffs(in.height, height);
  Image out(in.width, height, in.channels);
  const std::size_t stride = in.stride();
  for (int yy = 0; yy < height; ++yy) {
    const std::int32_t* k = &c.k[static_cast<std::size_t>(yy) * c.ksize];
    const int y0 = c.first[yy], n = c.count[yy];
    std::uint8_t* dst = out.row(yy);
    for (std::size_t i = 0; i < stride; ++i) {
      std::int32_t ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < n; ++y) ss += static_cast<std::int32_t>(in.pixels[(y0 + y) * stride + i]) * k[y];
      dst[i] = clip8(ss);
    }
  }
  return out;
}

// Python's round(): to nearest, ties to even (round(2.5) == 2), whatever the floating-point mode.
double round_half_even(double x) {
  const double r = std::floor(x);
  const double d = x - r;  // exact for the magnitudes used here
  if (d > 0.5) return r + 1;
  if (d < 0.5) return r;
  return std::fmod(r, 2.0) == 0.0 ? r : r + 1;
}

}  // namespace

QwenImageConfig QwenImageConfig::from_json(const nlohmann::json& j, const std::string& source) {
  QwenImageConfig c;
  if (!j.is_object()) throw Error(ErrorCode::model, source + ": must be a JSON object");
  if (j.contains("size") && j["size"].is_object()) {
    c.min_pixels = qwen_json_int(j["size"], "shortest_edge", c.min_pixels, source + ": size");
    c.max_pixels = qwen_json_int(j["size"], "longest_edge", c.max_pixels, source + ": size");
  }
  c.min_pixels = qwen_json_int(j, "min_pixels", c.min_pixels, source);
  c.max_pixels = qwen_json_int(j, "max_pixels", c.max_pixels, source);
  c.patch_size = static_cast<int>(qwen_json_int(j, "patch_size", c.patch_size, source));
  c.merge_size = static_cast<int>(qwen_json_int(j, "merge_size", c.merge_size, source));
  c.temporal_patch_size = static_cast<int>(qwen_json_int(j, "temporal_patch_size", c.temporal_patch_size, source));
  c.mean = json_triple(j, "image_mean", c.mean, source);
  c.std = json_triple(j, "image_std", c.std, source);
  if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
    if (!j["rescale_factor"].is_number()) throw Error(ErrorCode::model, source + ": 'rescale_factor' must be a number");
    c.rescale_factor = j["rescale_factor"].get<double>();
  }
  c.validate(source);
  return c;
}

nlohmann::json QwenImageConfig::to_json() const {
  return {{"image_processor_type", "Qwen2VLImageProcessor"},
          {"min_pixels", min_pixels},
          {"max_pixels", max_pixels},
          {"patch_size", patch_size},
          {"merge_size", merge_size},
          {"temporal_patch_size", temporal_patch_size},
          {"image_mean", mean},
          {"image_std", std},
          {"rescale_factor", rescale_factor},
          {"resample", 3},
          {"do_resize", true},
          {"do_rescale", true},
          {"do_normalize", true},
          {"do_convert_rgb", true}};
}

void QwenImageConfig::validate(const std::string& source) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::model, source + ": " + what);
  };
  check(patch_size > 0 && patch_size <= 256, "patch_size must be in 1..256");
  check(merge_size > 0 && merge_size <= 16, "merge_size must be in 1..16");
  check(temporal_patch_size > 0 && temporal_patch_size <= 16, "temporal_patch_size must be in 1..16");
  check(min_pixels > 0 && max_pixels >= min_pixels, "need 0 < min_pixels <= max_pixels");
  check(max_pixels <= (1ll << 31), "max_pixels must be at most 2^31");
  for (double s : std) check(s > 0 && std::isfinite(s), "image_std must be positive");
  for (double m : mean) check(std::isfinite(m), "image_mean must be finite");
  check(rescale_factor > 0 && std::isfinite(rescale_factor), "rescale_factor must be positive");
}

ResizedSize qwen_smart_resize(int height, int width, const QwenImageConfig& c) {
  if (height < 1 || width < 1) {
    throw Error(ErrorCode::invalid_argument, "image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels: both sides must be at least 1");
  }
  const double ratio = static_cast<double>(std::max(height, width)) / std::min(height, width);
  if (ratio > 200) {
    throw Error(ErrorCode::invalid_argument, "image of " + std::to_string(width) + "x" + std::to_string(height) +
                                                 " pixels: the aspect ratio must be at most 200 (Qwen2.5-VL's limit)");
  }
  const double f = c.factor();
  const double h = height, w = width;
  double h_bar = round_half_even(h / f) * f;
  double w_bar = round_half_even(w / f) * f;
  const double area = h * w;  // exact: both below 2^31
  if (h_bar * w_bar > static_cast<double>(c.max_pixels)) {
    const double beta = std::sqrt(area / static_cast<double>(c.max_pixels));
    h_bar = std::max(f, std::floor(h / beta / f) * f);
    w_bar = std::max(f, std::floor(w / beta / f) * f);
  } else if (h_bar * w_bar < static_cast<double>(c.min_pixels)) {
    const double beta = std::sqrt(static_cast<double>(c.min_pixels) / area);
    h_bar = std::ceil(h * beta / f) * f;
    w_bar = std::ceil(w * beta / f) * f;
  }
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

Image resize_bicubic_pil(const Image& img, int width, int height) {
  if (img.empty() || img.width < 1 || img.height < 1) throw Error(ErrorCode::invalid_argument, "resize: empty image");
  if (width < 1 || height < 1) throw Error(ErrorCode::invalid_argument, "resize: target sides must be at least 1");
  if (width == img.width && height == img.height) return img;  // Pillow returns a copy
  Image out = img;
  if (width != img.width) out = resample_horizontal(out, width);
  if (height != img.height) out = resample_vertical(out, height);
  return out;
}

QwenPatches qwen_flatten_patches(const Image& img, const QwenImageConfig& c) {
  if (img.channels != 3) throw Error(ErrorCode::invalid_argument, "Qwen2.5-VL needs an RGB image");
  const int f = c.factor(), P = c.patch_size, M = c.merge_size, T = c.temporal_patch_size;
  if (img.width < f || img.height < f || img.width % f || img.height % f) {
    throw Error(ErrorCode::invalid_argument, "image of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                                 " pixels: both sides must be positive multiples of " + std::to_string(f));
  }
  QwenPatches out;
  out.grid_t = 1;
  out.grid_h = img.height / P;
  out.grid_w = img.width / P;
  out.rows = out.grid_t * out.grid_h * out.grid_w;
  out.cols = 3LL * T * P * P;
  out.values.resize(static_cast<std::size_t>(out.rows * out.cols));
  // Normalised planes first (float32 as transformers computes them: x * (1/255) rounded to float, then
  // (x - mean) / std in float32).
  std::array<float, 256 * 3> lut{};
  for (int ci = 0; ci < 3; ++ci) {
    const float m = static_cast<float>(c.mean[ci]), s = static_cast<float>(c.std[ci]);
    for (int v = 0; v < 256; ++v) lut[ci * 256 + v] = (static_cast<float>(v * c.rescale_factor) - m) / s;
  }
  float* dst = out.values.data();
  const std::int64_t bh_n = out.grid_h / M, bw_n = out.grid_w / M;
  for (std::int64_t bh = 0; bh < bh_n; ++bh) {
    for (std::int64_t bw = 0; bw < bw_n; ++bw) {
      for (int mh = 0; mh < M; ++mh) {
        for (int mw = 0; mw < M; ++mw) {
          const std::int64_t y0 = (bh * M + mh) * P, x0 = (bw * M + mw) * P;
          for (int ci = 0; ci < 3; ++ci) {
            const float* l = &lut[ci * 256];
            for (int t = 0; t < T; ++t) {  // a still image: every frame is the same picture
              for (int y = 0; y < P; ++y) {
                const std::uint8_t* src = img.row(static_cast<int>(y0 + y)) + x0 * 3 + ci;
                for (int x = 0; x < P; ++x) *dst++ = l[src[x * 3]];
              }
            }
          }
        }
      }
    }
  }
  return out;
}

QwenPatches qwen_preprocess_image(const Image& rgb, const QwenImageConfig& c) {
  if (rgb.empty() || rgb.channels != 3) throw Error(ErrorCode::invalid_argument, "Qwen2.5-VL needs an RGB image");
  const ResizedSize s = qwen_smart_resize(rgb.height, rgb.width, c);
  return qwen_flatten_patches(resize_bicubic_pil(rgb, s.width, s.height), c);
}

}  // namespace hawkeye::model
