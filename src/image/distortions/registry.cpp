// The KADID registry: type ids, names, per-level parameters, and the generator around every distortion
// (global min-max normalisation before and after, clipping, rounding to 8 bits; docs/distortions.md section 1).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <opencv2/imgproc.hpp>
#include <string>

#include "hawkeye/core/text_util.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/ops.h"
#include "image/cv_bridge.h"
#include "image/distortions/kadid_ops.h"

namespace hawkeye {

namespace {

struct Entry {
  KadidDistortion info;
  kadid::DistortFn fn;
};

const std::vector<Entry>& entries() {
  // Parameters: spec section 2 (MATLAB imdist_generator order; levels 18 and 25 peak at level 3).
  static const std::vector<Entry> table = {
      {{1, "gaussian_blur", "blur", "Gaussian sigma (px)", {0.1, 0.5, 1, 2, 5}}, kadid::gaussian_blur},
      {{2, "lens_blur", "blur", "disc radius (px)", {1, 2, 4, 6, 8}}, kadid::lens_blur},
      {{3, "motion_blur", "blur", "line length (px), random angle", {1, 2, 4, 6, 10}, true}, kadid::motion_blur},
      {{4, "color_diffusion", "color", "chroma blur sigma 1.5a+2 (px) and gain a", {1, 3, 6, 8, 12}},
       kadid::color_diffusion},
      {{5, "color_shift", "color", "green shift magnitude (px), random direction", {1, 3, 6, 8, 12}, true},
       kadid::color_shift},
      {{6, "color_quantization", "color", "palette size (colours), dithered", {64, 48, 32, 16, 8}},
       kadid::color_quantization},
      {{7, "color_saturation_1", "color", "factor on HSV saturation", {0.4, 0.2, 0.1, 0, -0.4}},
       kadid::color_saturation_hsv},
      {{8, "color_saturation_2", "color", "factor on Lab a and b", {1, 2, 3, 6, 9}}, kadid::color_saturation_lab},
      {{9, "jpeg2000", "compression", "compression ratio", {16, 32, 45, 120, 400}}, kadid::jpeg2000},
      {{10, "jpeg", "compression", "JPEG quality", {43, 36, 24, 7, 4}}, kadid::jpeg},
      {{11, "white_noise", "noise", "Gaussian variance (in [0,1] units)", {0.001, 0.002, 0.003, 0.005, 0.01}, true},
       kadid::white_noise},
      {{12, "white_noise_color_component", "noise", "Gaussian variance in YCbCr",
        {0.0001, 0.0005, 0.001, 0.002, 0.003}, true},
       kadid::white_noise_color_component},
      {{13, "impulse_noise", "noise", "salt and pepper density", {0.001, 0.005, 0.01, 0.02, 0.03}, true},
       kadid::impulse_noise},
      {{14, "multiplicative_noise", "noise", "speckle variance (uniform)", {0.001, 0.005, 0.01, 0.02, 0.05}, true},
       kadid::multiplicative_noise},
      {{15, "denoise", "noise", "variance of the added noise (substitute denoiser)", {0.01, 0.03, 0.05, 0.1, 0.15},
        true, true, true, false},
       kadid::denoise_substitute},
      {{16, "brighten", "brightness", "amount (tone curve through (0.5, 0.5+a/2))", {0.1, 0.2, 0.4, 0.7, 1.1}},
       kadid::brighten},
      {{17, "darken", "brightness", "amount (tone curve through (0.5, 0.5-a/2))", {0.05, 0.1, 0.2, 0.4, 0.8}},
       kadid::darken},
      {{18, "mean_shift", "brightness", "additive offset", {0.15, 0.08, 0, -0.08, -0.15}, false, false},
       kadid::mean_shift},
      {{19, "jitter", "spatial", "std of per-pixel displacement (px), 5 passes", {0.05, 0.1, 0.2, 0.5, 1}, true},
       kadid::jitter},
      {{20, "non_eccentricity_patch", "spatial", "number of 16x16 patches moved", {20, 40, 60, 80, 100}, true},
       kadid::non_eccentricity_patch},
      {{21, "pixelate", "spatial", "strength s (scale 0.95 - s^0.6)", {0.01, 0.05, 0.1, 0.2, 0.5}}, kadid::pixelate},
      {{22, "quantization", "spatial", "number of Otsu thresholds", {20, 16, 13, 10, 7}}, kadid::quantization},
      {{23, "color_block", "spatial", "number of 32x32 blocks", {2, 4, 6, 8, 10}, true}, kadid::color_block},
      {{24, "high_sharpen", "sharpness_contrast", "unsharp-mask amount (radius 3)", {1, 2, 3, 6, 12}},
       kadid::high_sharpen},
      {{25, "contrast_change", "sharpness_contrast", "contrast amount c", {0.3, 0.15, 0, -0.4, -0.6}, false, false},
       kadid::contrast_change},
  };
  return table;
}

std::string valid_names() {
  std::string s;
  for (const auto& e : entries()) {
    if (!s.empty()) s += ", ";
    s += std::to_string(e.info.id) + " " + std::string(e.info.name);
  }
  return s;
}

// MATLAB mapmm: one min and one max over all channels mapped to 0 and 1 (a flat image is left as is).
void minmax_normalize(cv::Mat& m) {
  double lo = 0, hi = 0;
  cv::minMaxLoc(m.reshape(1), &lo, &hi);
  if (hi > lo) m = (m - lo) / (hi - lo);
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out = split_on(s, ',');
  for (auto& part : out) part = std::string(trim_space(part));
  return out;
}

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

const std::vector<KadidDistortion>& kadid_distortions() {
  static const std::vector<KadidDistortion> list = [] {
    std::vector<KadidDistortion> v;
    for (const auto& e : entries()) v.push_back(e.info);
    return v;
  }();
  return list;
}

const KadidDistortion& kadid_distortion(int id) {
  if (id < 1 || id > kKadidTypeCount) {
    throw Error(ErrorCode::invalid_argument,
                "unknown KADID distortion type " + std::to_string(id) + " (valid: " + valid_names() + ")");
  }
  return kadid_distortions()[static_cast<std::size_t>(id - 1)];
}

const KadidDistortion& kadid_distortion(std::string_view name_or_id) {
  const std::string key(trim_space(name_or_id));
  int id = 0;
  if (parse_int(key, id)) return kadid_distortion(id);
  std::string lower;
  for (char c : key) lower += static_cast<char>(c == '-' ? '_' : std::tolower(static_cast<unsigned char>(c)));
  for (const auto& d : kadid_distortions())
    if (d.name == lower) return d;
  throw Error(ErrorCode::invalid_argument,
              "unknown KADID distortion '" + key + "' (valid: " + valid_names() + ")");
}

std::uint64_t kadid_seed(std::uint64_t run_seed, std::string_view image_id, int type, int level) {
  return derive_seed(run_seed, std::string(image_id) + "|type=" + std::to_string(type) + "|level=" + std::to_string(level));
}

Image apply_kadid(const Image& image, int type, int level, std::uint64_t seed, const KadidOptions& options) {
  const KadidDistortion& info = kadid_distortion(type);
  require(level >= 1 && level <= kKadidLevelCount, ErrorCode::invalid_argument,
          "KADID level must be 1..5, got " + std::to_string(level));
  require(!image.empty() && (image.channels == 3 || image.channels == 1), ErrorCode::invalid_argument,
          "apply_kadid: expected a non-empty RGB or grey image");
  const Image rgb8 = image.channels == 3 ? image : grey_to_rgb(image);
  cv::Mat rgb;
  as_mat(rgb8).convertTo(rgb, CV_32F, 1.0 / 255.0);
  if (options.minmax_normalize) minmax_normalize(rgb);
  Rng rng(seed);
  kadid::DistortFn fn = entries()[static_cast<std::size_t>(info.id - 1)].fn;
  if (info.id == 9 && options.jpeg2000 != Jpeg2000Coder::opencv53) {
    // Type 9 draws nothing from rng, so the coder's draw has a stream of its own (the other types are unchanged).
    const bool use97 = options.jpeg2000 == Jpeg2000Coder::wavelet97 || (derive_seed(seed, "jpeg2000-coder") & 1U) == 1U;
    if (use97) fn = kadid::jpeg2000_97;
  }
  fn(rgb, info.levels[static_cast<std::size_t>(level - 1)], rng);
  if (options.minmax_normalize) minmax_normalize(rgb);
  Image out(rgb8.width, rgb8.height, 3);
  cv::Mat dst = as_mat(out);
  rgb.convertTo(dst, CV_8U, 255.0);  // rounds and saturates
  return out;
}

Jpeg2000Coder parse_jpeg2000_coder(std::string_view name) {
  const std::string key(trim_space(name));
  if (key == "opencv53" || key == "5/3") return Jpeg2000Coder::opencv53;
  if (key == "wavelet97" || key == "9/7") return Jpeg2000Coder::wavelet97;
  if (key == "both") return Jpeg2000Coder::both;
  throw Error(ErrorCode::invalid_argument,
              "unknown JPEG 2000 coder '" + key + "' (valid: opencv53 or 5/3, wavelet97 or 9/7, both)");
}

std::string_view jpeg2000_coder_name(Jpeg2000Coder coder) {
  switch (coder) {
    case Jpeg2000Coder::opencv53: return "opencv53";
    case Jpeg2000Coder::wavelet97: return "wavelet97";
    case Jpeg2000Coder::both: return "both";
  }
  return "opencv53";
}

std::vector<int> parse_kadid_types(std::string_view spec) {
  std::vector<int> ids;
  for (const std::string& item : split_list(spec)) {
    if (item.empty()) throw Error(ErrorCode::invalid_argument, "empty entry in the type list '" + std::string(spec) + "'");
    if (item == "all" || item == "all+substitutes") {
      for (const auto& d : kadid_distortions())
        if (d.labelled || item == "all+substitutes") ids.push_back(d.id);
      continue;
    }
    ids.push_back(kadid_distortion(item).id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<int> parse_kadid_levels(std::string_view spec) {
  std::vector<int> levels;
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::invalid_argument, "level list '" + std::string(spec) + "': " + why + " (e.g. 1-5, 3, 1,3,5)");
  };
  for (const std::string& item : split_list(spec)) {
    const std::size_t dash = item.find('-');
    int lo = 0, hi = 0;
    if (dash == std::string::npos) {
      if (!parse_int(item, lo)) throw bad("'" + item + "' is not a level");
      hi = lo;
    } else if (!parse_int(trim_space(std::string_view(item).substr(0, dash)), lo) || !parse_int(trim_space(std::string_view(item).substr(dash + 1)), hi) || lo > hi) {
      throw bad("'" + item + "' is not a range");
    }
    if (lo < 1 || hi > kKadidLevelCount) throw bad("levels are 1..5");
    for (int l = lo; l <= hi; ++l) levels.push_back(l);
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  return levels;
}

}  // namespace hawkeye
