#include "hawkeye/metrics/registry.h"

#include <functional>
#include <optional>

#include "hawkeye/core/error.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/version.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/metrics/no_reference.h"

namespace hawkeye {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A full-reference metric class (FullReferenceMetric<Options>) behind the Metric interface.
template <typename Options>
class FullReferenceAdapter final : public Metric {
 public:
  FullReferenceAdapter(const MetricInfo& info, Options options) : info_(info), options_(options) {}
  const MetricInfo& info() const override { return info_; }
  void set_reference(const Image& ref) override { metric_.emplace(ref, options_); }
  double compute(const Image& img) const override {
    require(metric_.has_value(), ErrorCode::invalid_argument,
            info_.name + " is a full-reference metric: set a reference image first");
    return metric_->compute(img);
  }

 private:
  const MetricInfo& info_;
  Options options_;
  std::optional<FullReferenceMetric<Options>> metric_;
};

// A no-reference metric object (Brisque, Niqe) behind the Metric interface.
template <typename Model>
class NoReferenceAdapter final : public Metric {
 public:
  NoReferenceAdapter(const MetricInfo& info, Model model) : info_(info), model_(std::move(model)) {}
  const MetricInfo& info() const override { return info_; }
  void set_reference(const Image&) override {
    throw Error(ErrorCode::invalid_argument, info_.name + " is a no-reference metric: it takes no reference image");
  }
  double compute(const Image& img) const override { return model_.compute(img); }

 private:
  const MetricInfo& info_;
  Model model_;
};

using Factory = std::function<std::unique_ptr<Metric>(const MetricInfo&, const MetricOptions&)>;

struct Entry {
  MetricInfo info;
  Factory make;
};

template <typename Options>
Factory full_reference(Options options) {
  return [options](const MetricInfo& info, const MetricOptions&) {
    return std::make_unique<FullReferenceAdapter<Options>>(info, options);
  };
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    std::vector<Entry> t;
    const auto fr = MetricKind::full_reference;
    const auto nr = MetricKind::no_reference;
    t.push_back({{"psnr", fr, 0, kInf, true, "dB", "PSNR over all RGB samples (scikit-image); +inf for identical images"},
                 full_reference(PsnrOptions{FrColour::channels})});
    t.push_back({{"psnr_luma", fr, 0, kInf, true, "dB", "PSNR of MATLAB rgb2gray luma"},
                 full_reference(PsnrOptions{FrColour::luma})});
    t.push_back({{"ssim", fr, -1, 1, true, "",
                  "SSIM (Wang et al. 2004, ssim.m) on rgb2gray luma, 11x11 Gaussian sigma 1.5, valid region"},
                 [](const MetricInfo& info, const MetricOptions& o) -> std::unique_ptr<Metric> {
                   return std::make_unique<FullReferenceAdapter<SsimOptions>>(info, SsimOptions{FrColour::luma, o.ssim_downsample});
                 }});
    t.push_back({{"ms_ssim", fr, 0, 1, true, "", "MS-SSIM (msssim.m) on rgb2gray luma, 5 scales"},
                 full_reference(MsSsimOptions{})});
    t.push_back({{"gmsd", fr, 0, 1, false, "", "GMSD (GMSD.m) on rgb2gray luma; 0 = identical"},
                 full_reference(GmsdOptions{})});
    // Not pyiqa's "brisque" (the LIVE release, another model): a name of its own, so that it cannot pass for it.
    t.push_back({{"brisque_opencv", nr, 0, 100, false, "",
                  "BRISQUE as OpenCV's cv::quality (LIVE SVR model of Debian's opencv-data); clamped to 0..100. Not "
                  "pyiqa's brisque (the LIVE release): another model, other scores (TID2013 I03 84.46 vs 94.64)"},
                 [](const MetricInfo& info, const MetricOptions& o) -> std::unique_ptr<Metric> {
                   return std::make_unique<NoReferenceAdapter<Brisque>>(
                       info, Brisque::load(o.brisque_model.empty() ? Brisque::kDefaultModel : o.brisque_model,
                                           o.brisque_range.empty() ? Brisque::kDefaultRange : o.brisque_range));
                 }});
    t.push_back({{"niqe", nr, 0, kInf, false, "", "NIQE (the LIVE MATLAB release) with its pristine model, 96x96 patches"},
                 [](const MetricInfo& info, const MetricOptions& o) -> std::unique_ptr<Metric> {
                   return std::make_unique<NoReferenceAdapter<Niqe>>(
                       info, Niqe::load(o.niqe_model.empty() ? default_niqe_model() : o.niqe_model));
                 }});
    return t;
  }();
  return table;
}

// Names are case-insensitive (pyiqa's create_metric('SSIM') works too); an unknown one gets a "did you mean".
const Entry& entry(std::string_view name) {
  const std::string lower = ascii_lower(name);
  for (const Entry& e : entries()) {
    if (e.info.name == lower) return e;
  }
  if (lower == "brisque") {
    throw Error(ErrorCode::not_found,
                "no metric named 'brisque': pyiqa's brisque is the LIVE release, hawkeye's is OpenCV's variant, which scores "
                "differently (TID2013 I03: 84.46 vs pyiqa's 94.64); use 'brisque_opencv' for it (docs/metrics.md)");
  }
  std::string known;
  std::vector<std::string> names;
  for (const Entry& e : entries()) {
    known += (known.empty() ? "" : ", ") + e.info.name;
    names.push_back(e.info.name);
  }
  const std::string near = closest_name(lower, names);
  throw Error(ErrorCode::not_found, "no metric named '" + std::string(name) + "'" + (near.empty() ? "" : "; did you mean " + near + "?") +
                                        " (known: " + known + ")");
}

}  // namespace

const std::vector<MetricInfo>& list_metrics() {
  static const std::vector<MetricInfo> infos = [] {
    std::vector<MetricInfo> v;
    for (const Entry& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

const MetricInfo& metric_info(std::string_view name) { return entry(name).info; }

std::unique_ptr<Metric> create_metric(std::string_view name, const MetricOptions& options) {
  const Entry& e = entry(name);
  return e.make(e.info, options);
}

double compute_metric(std::string_view name, const Image& img, const Image* ref, const MetricOptions& options) {
  const MetricInfo& info = metric_info(name);
  if (info.kind == MetricKind::full_reference) {
    require(ref != nullptr, ErrorCode::invalid_argument, info.name + " is a full-reference metric: give a reference image");
  } else {
    require(ref == nullptr, ErrorCode::invalid_argument, info.name + " is a no-reference metric: it takes no reference image");
  }
  std::unique_ptr<Metric> m = create_metric(name, options);
  if (ref) m->set_reference(*ref);
  return m->compute(img);
}

std::filesystem::path default_niqe_model() {
  std::filesystem::path resources = resource_dir();
  if (!resources.has_filename()) resources = resources.parent_path();  // written with a trailing slash
  const std::filesystem::path model = resources / "niqe_image_params.mat";
  std::error_code ec;
  if (std::filesystem::is_regular_file(model, ec)) return model;
  throw Error(ErrorCode::not_found, "no NIQE pristine model found (looked for " + model.string() +
                                        "); pass its path (the LIVE release's niqe_image_params.mat / modelparameters.mat)");
}

}  // namespace hawkeye
