// BRISQUE as OpenCV's contrib quality module computes it (qualitybrisque.cpp, OpenCV 4.6), rewritten for
// speed: one fused pass per scale gathers the statistics of the MSCN coefficients and of their 4
// neighbour products, where OpenCV builds a shifted copy and five temporary images per fit. The float
// arithmetic of each value follows OpenCV's order, so features agree to float rounding.
#include <array>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/metrics/no_reference.h"
#include "metrics/nss.h"
#include "metrics/planes.h"

namespace hawkeye {

namespace {

constexpr int kMinSide = 16;
constexpr std::uint64_t kMaxModelBytes = 64ull << 20;

// Sums OpenCV's AGGDfit takes over a matrix (NaN entries count as 0: OpenCV's max/min and patchNaNs
// drop them from the sums and counts, but they stay in the total).
struct AggdSums {
  double pos_sq = 0, neg_sq = 0, abs_sum = 0;
  std::int64_t pos = 0, neg = 0;
  void add(float v) {
    if (v > 0) {
      pos_sq += static_cast<double>(v * v);
      abs_sum += static_cast<double>(v);
      ++pos;
    } else if (v < 0) {
      neg_sq += static_cast<double>(v * v);
      abs_sum += static_cast<double>(-v);
      ++neg;
    }
  }
  void merge(const AggdSums& o) {
    pos_sq += o.pos_sq;
    neg_sq += o.neg_sq;
    abs_sum += o.abs_sum;
    pos += o.pos;
    neg += o.neg;
  }
};

struct AggdFit {
  double shape, left_sigma, right_sigma;
};

AggdFit aggd_fit(const AggdSums& s, double total) {
  const double l = std::pow(s.neg_sq / static_cast<double>(s.neg), 0.5);
  const double r = std::pow(s.pos_sq / static_cast<double>(s.pos), 0.5);
  const double gh = l / r;
  const double rhat = std::pow(s.abs_sum / total, 2.0) / ((s.neg_sq + s.pos_sq) / total);
  const double rhatnorm = rhat * (std::pow(gh, 3) + 1) * (gh + 1) / std::pow(std::pow(gh, 2) + 1, 2);
  return {detail::aggd_shape_opencv(rhatnorm), l, r};
}

// MSCN coefficients of one scale: (I - mu) / (sigma + 1/255), float, NaN where the local variance came
// out negative through rounding (OpenCV's pow(x, 0.5) of a negative number).
cv::Mat mscn(const cv::Mat& img) {
  cv::Mat mu, sigma;
  cv::GaussianBlur(img, mu, cv::Size(7, 7), 7. / 6., 0., cv::BORDER_REPLICATE);
  cv::multiply(img, img, sigma);
  cv::GaussianBlur(sigma, sigma, cv::Size(7, 7), 7. / 6., 0., cv::BORDER_REPLICATE);
  cv::Mat out(img.size(), CV_32F);
  const float add = static_cast<float>(1.0 / 255);
  for (int i = 0; i < img.rows; ++i) {
    const float* x = img.ptr<float>(i);
    const float* m = mu.ptr<float>(i);
    const float* s = sigma.ptr<float>(i);
    float* o = out.ptr<float>(i);
    for (int j = 0; j < img.cols; ++j) {
      const float var = s[j] - m[j] * m[j];
      o[j] = (x[j] - m[j]) / (std::sqrt(var) + add);  // sqrt of a negative value: NaN, as in OpenCV
    }
  }
  return out;
}

// The 18 features of one scale.
void scale_features(const cv::Mat& img, float* feat) {
  cv::Mat z = mscn(img);
  cv::patchNaNs(z, 0.0);  // NaN coefficients and the products they enter count as 0 (see AggdSums)
  const int rows = z.rows, cols = z.cols;
  // Fixed row chunks summed in order: the result does not depend on the thread count.
  const int chunks = std::min(rows, 32);
  std::vector<std::array<AggdSums, 5>> partial(static_cast<std::size_t>(chunks));
  cv::parallel_for_(cv::Range(0, chunks), [&](const cv::Range& range) {
    for (int c = range.start; c < range.end; ++c) {
      std::array<AggdSums, 5>& acc = partial[static_cast<std::size_t>(c)];
      const int r0 = static_cast<int>(static_cast<std::int64_t>(rows) * c / chunks);
      const int r1 = static_cast<int>(static_cast<std::int64_t>(rows) * (c + 1) / chunks);
      for (int i = r0; i < r1; ++i) {
        const float* row = z.ptr<float>(i);
        const float* below = i + 1 < rows ? z.ptr<float>(i + 1) : nullptr;
        const float* above = i > 0 ? z.ptr<float>(i - 1) : nullptr;
        for (int j = 0; j < cols; ++j) {
          const float v = row[j];
          acc[0].add(v);
          // Products with the neighbours (row, col) + (0,1) H, (1,0) V, (1,1) D1, (-1,1) D2; outside the
          // image the neighbour is 0 (OpenCV zero-fills its shifted copy).
          const bool right = j + 1 < cols;
          acc[1].add(right ? v * row[j + 1] : 0.f);
          acc[2].add(below ? v * below[j] : 0.f);
          acc[3].add(below && right ? v * below[j + 1] : 0.f);
          acc[4].add(above && right ? v * above[j + 1] : 0.f);
        }
      }
    }
  });
  std::array<AggdSums, 5> sums{};
  for (const auto& p : partial)
    for (int k = 0; k < 5; ++k) sums[static_cast<std::size_t>(k)].merge(p[static_cast<std::size_t>(k)]);
  const double total = static_cast<double>(rows) * cols;
  const AggdFit f0 = aggd_fit(sums[0], total);
  feat[0] = static_cast<float>(f0.shape);
  feat[1] = static_cast<float>(f0.left_sigma * f0.left_sigma + f0.right_sigma * f0.right_sigma) / 2;
  for (int k = 0; k < 4; ++k) {
    const AggdFit f = aggd_fit(sums[static_cast<std::size_t>(k) + 1], total);
    const double g = f.shape;
    const double constant = std::sqrt(std::tgamma(1 / g)) / std::sqrt(std::tgamma(3 / g));
    const double mean = (f.right_sigma - f.left_sigma) * (std::tgamma(2 / g) / std::tgamma(1 / g)) * constant;
    feat[2 + 4 * k] = static_cast<float>(g);
    feat[3 + 4 * k] = static_cast<float>(mean);
    feat[4 + 4 * k] = static_cast<float>(std::pow(f.left_sigma, 2));
    feat[5 + 4 * k] = static_cast<float>(std::pow(f.right_sigma, 2));
  }
}

const char* const kFeatureNames[18] = {
    "MSCN shape", "MSCN variance", "H shape", "H mean", "H left variance", "H right variance",
    "V shape", "V mean", "V left variance", "V right variance", "D1 shape", "D1 mean",
    "D1 left variance", "D1 right variance", "D2 shape", "D2 mean", "D2 left variance", "D2 right variance"};

// ---- model files (OpenCV FileStorage YAML/XML)

[[noreturn]] void model_error(const std::filesystem::path& file, const std::string& what) {
  throw Error(ErrorCode::corrupt_data, file.string() + ": " + what);
}

cv::FileStorage open_storage(const std::filesystem::path& file) {
  const std::string text = read_file(file, kMaxModelBytes);
  try {
    cv::FileStorage fs(text, cv::FileStorage::READ | cv::FileStorage::MEMORY);
    if (!fs.isOpened()) model_error(file, "not an OpenCV YAML/XML storage file");
    return fs;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::parse, file.string() + ": cannot parse: " + e.err);
  }
}

double real_field(const cv::FileNode& n, const std::filesystem::path& file, const std::string& name) {
  if (!n.isReal() && !n.isInt()) model_error(file, "field '" + name + "' is missing or not a number");
  const double v = static_cast<double>(n);
  if (!std::isfinite(v)) model_error(file, "field '" + name + "' is not finite");
  return v;
}

}  // namespace

struct Brisque::Model {
  double gamma = 0;                 // RBF kernel exp(-gamma |x - sv|^2)
  int sv_count = 0;
  std::vector<float> support;       // sv_count x 36, row-major
  std::vector<double> alpha;        // sv_count
  double rho = 0;
  std::array<float, kFeatures> lo{}, hi{};  // feature ranges for scaling to [-1, 1]
};

Brisque Brisque::load(const std::filesystem::path& model_file, const std::filesystem::path& range_file) {
  auto m = std::make_shared<Model>();
  try {
    cv::FileStorage fs = open_storage(model_file);
    const cv::FileNode svm = fs["opencv_ml_svm"];
    if (svm.empty() || !svm.isMap()) model_error(model_file, "no 'opencv_ml_svm' map (not an OpenCV SVM model)");
    const std::string type = svm["svmType"].isString() ? static_cast<std::string>(svm["svmType"]) : "";
    if (type != "EPS_SVR" && type != "NU_SVR") {
      model_error(model_file, "svmType is '" + type + "'; BRISQUE needs a regression SVM (EPS_SVR or NU_SVR)");
    }
    const cv::FileNode kernel = svm["kernel"];
    const std::string ktype = kernel["type"].isString() ? static_cast<std::string>(kernel["type"]) : "";
    if (ktype != "RBF") model_error(model_file, "kernel type is '" + ktype + "'; only RBF is supported");
    m->gamma = real_field(kernel["gamma"], model_file, "kernel.gamma");
    if (m->gamma <= 0) model_error(model_file, "kernel.gamma must be positive");
    const double var_count = real_field(svm["var_count"], model_file, "var_count");
    if (var_count != kFeatures) {
      model_error(model_file, "var_count is " + std::to_string(static_cast<long long>(var_count)) + "; BRISQUE has 36 features");
    }
    const double total = real_field(svm["sv_total"], model_file, "sv_total");
    if (total < 1 || total > 1e6) model_error(model_file, "sv_total must lie in 1 .. 1000000");
    m->sv_count = static_cast<int>(total);
    const cv::FileNode svs = svm["support_vectors"];
    if (!svs.isSeq() || static_cast<int>(svs.size()) != m->sv_count) {
      model_error(model_file, "support_vectors must be a list of sv_total (" + std::to_string(m->sv_count) + ") vectors");
    }
    m->support.reserve(static_cast<std::size_t>(m->sv_count) * kFeatures);
    int i = 0;
    for (const cv::FileNode& sv : svs) {
      if (!sv.isSeq() || sv.size() != kFeatures) {
        model_error(model_file, "support vector " + std::to_string(i) + " does not have 36 values");
      }
      for (const cv::FileNode& v : sv) {
        m->support.push_back(static_cast<float>(real_field(v, model_file, "support_vectors[" + std::to_string(i) + "]")));
      }
      ++i;
    }
    const cv::FileNode dfs = svm["decision_functions"];
    if (!dfs.isSeq() || dfs.size() != 1) model_error(model_file, "decision_functions must hold exactly one function");
    const cv::FileNode df = dfs[0];
    const double count = real_field(df["sv_count"], model_file, "decision_functions[0].sv_count");
    if (count != m->sv_count) model_error(model_file, "decision_functions[0].sv_count differs from sv_total");
    m->rho = real_field(df["rho"], model_file, "decision_functions[0].rho");
    const cv::FileNode alpha = df["alpha"];
    if (!alpha.isSeq() || static_cast<int>(alpha.size()) != m->sv_count) {
      model_error(model_file, "decision_functions[0].alpha must hold sv_count values");
    }
    for (const cv::FileNode& a : alpha) m->alpha.push_back(real_field(a, model_file, "decision_functions[0].alpha"));
    const cv::FileNode index = df["index"];
    if (!index.empty()) {  // OpenCV writes it only when the function uses a subset of the vectors
      if (!index.isSeq() || static_cast<int>(index.size()) != m->sv_count) {
        model_error(model_file, "decision_functions[0].index must hold sv_count values");
      }
      std::vector<float> reordered;
      reordered.reserve(m->support.size());
      for (const cv::FileNode& ix : index) {
        const double k = real_field(ix, model_file, "decision_functions[0].index");
        if (k < 0 || k >= m->sv_count || k != std::floor(k)) model_error(model_file, "decision_functions[0].index out of range");
        const auto* row = &m->support[static_cast<std::size_t>(k) * kFeatures];
        reordered.insert(reordered.end(), row, row + kFeatures);
      }
      m->support.swap(reordered);
    }
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::parse, model_file.string() + ": " + e.err);
  }
  try {
    cv::FileStorage fs = open_storage(range_file);
    cv::Mat range;
    fs["range"] >> range;
    if (range.empty()) model_error(range_file, "no 'range' matrix");
    if (range.rows != 2 || range.cols != kFeatures) {
      model_error(range_file, "'range' is " + std::to_string(range.rows) + "x" + std::to_string(range.cols) +
                                  "; it must be 2x36 (minimum and maximum of each feature)");
    }
    range.convertTo(range, CV_32F);
    for (int k = 0; k < kFeatures; ++k) {
      m->lo[static_cast<std::size_t>(k)] = range.at<float>(0, k);
      m->hi[static_cast<std::size_t>(k)] = range.at<float>(1, k);
      if (!std::isfinite(m->lo[k]) || !std::isfinite(m->hi[k]) || !(m->hi[k] > m->lo[k])) {
        model_error(range_file, "feature " + std::to_string(k) + " has an empty or non-finite range");
      }
    }
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::parse, range_file.string() + ": " + e.err);
  }
  Brisque b;
  b.model_ = std::move(m);
  return b;
}

std::array<float, Brisque::kFeatures> Brisque::features(const Image& img) {
  detail::check_image("brisque", "input", img, kMinSide, kMinSide);
  // OpenCV converts BGR to grey with its fixed-point BT.601 weights; on our RGB order that is RGB2GRAY.
  cv::Mat grey;
  if (img.channels == 3) {
    const cv::Mat rgb(img.height, img.width, CV_8UC3, const_cast<std::uint8_t*>(img.pixels.data()));
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  } else {
    grey = cv::Mat(img.height, img.width, CV_8UC1, const_cast<std::uint8_t*>(img.pixels.data()));
  }
  cv::Mat unit;
  grey.convertTo(unit, CV_32F, 1. / 255.);
  std::array<float, kFeatures> feat{};
  scale_features(unit, feat.data());
  cv::Mat half;
  cv::resize(unit, half, cv::Size(unit.cols / 2, unit.rows / 2), 0, 0, cv::INTER_CUBIC);
  scale_features(half, feat.data() + 18);
  for (int k = 0; k < kFeatures; ++k) {
    if (!std::isfinite(feat[static_cast<std::size_t>(k)])) {
      throw Error(ErrorCode::numerical, "brisque: feature '" + std::string(kFeatureNames[k % 18]) + "' at scale " +
                                            std::to_string(k / 18 + 1) +
                                            " is undefined: the image is flat (no texture), BRISQUE cannot rate it");
    }
  }
  return feat;
}

double Brisque::compute(const Image& img) const {
  const std::array<float, kFeatures> feat = features(img);
  const Model& m = *model_;
  std::array<float, kFeatures> x{};
  for (int k = 0; k < kFeatures; ++k) {
    // OpenCV's quality_utils::scale, in float.
    x[k] = -1.f + (1.f - -1.f) * (feat[k] - m.lo[k]) / (m.hi[k] - m.lo[k]);
  }
  // OpenCV's SVM::predict for an RBF regression: squared distances in double, exp(-gamma d2) in float.
  std::vector<float> kernel(static_cast<std::size_t>(m.sv_count));
  for (int i = 0; i < m.sv_count; ++i) {
    const float* sv = &m.support[static_cast<std::size_t>(i) * kFeatures];
    double s = 0;
    for (int k = 0; k < kFeatures; k += 2) {
      const double t0 = sv[k] - x[k], t1 = sv[k + 1] - x[k + 1];
      s += t0 * t0 + t1 * t1;
    }
    kernel[static_cast<std::size_t>(i)] = static_cast<float>(s * -m.gamma);
  }
  cv::Mat kmat(1, m.sv_count, CV_32F, kernel.data());
  cv::exp(kmat, kmat);
  double sum = -m.rho;
  for (int i = 0; i < m.sv_count; ++i) sum += m.alpha[static_cast<std::size_t>(i)] * kernel[static_cast<std::size_t>(i)];
  return std::min(std::max(static_cast<float>(sum), 0.f), 100.f);
}

double Brisque::compute(const Image& img, const std::filesystem::path& model, const std::filesystem::path& range) {
  return load(model, range).compute(img);
}

}  // namespace hawkeye
