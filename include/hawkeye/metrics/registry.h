// Every classical metric by name, like pyiqa's list_models/create_metric: its kind (full- or
// no-reference), score range and direction, and one interface to compute it.
//
//   auto m = create_metric("ssim");          // or "psnr", "psnr_luma", "ms_ssim", "gmsd", "brisque_opencv", "niqe"
//   m->set_reference(ref);                   // full-reference metrics: cached for all later calls
//   double s = m->compute(dist);
//   double t = compute_metric("brisque_opencv", img);  // one-shot
#pragma once
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/image/image.h"

namespace hawkeye {

enum class MetricKind { full_reference, no_reference };

struct MetricInfo {
  std::string name;
  MetricKind kind = MetricKind::full_reference;
  double lowest = 0, highest = 0;  // the score range (highest may be +infinity)
  bool higher_is_better = true;
  std::string unit;                // "dB" or "" (unitless)
  std::string description;
};

// All metrics, in a stable order.
const std::vector<MetricInfo>& list_metrics();

// Error(not_found) naming the known metrics when there is no such metric.
const MetricInfo& metric_info(std::string_view name);

struct MetricOptions {
  bool ssim_downsample = false;  // ssim: the MATLAB script's automatic downsampling
  std::filesystem::path brisque_model;  // empty: Brisque::kDefaultModel (Debian opencv-data)
  std::filesystem::path brisque_range;  // empty: Brisque::kDefaultRange
  std::filesystem::path niqe_model;     // empty: default_niqe_model()
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual const MetricInfo& info() const = 0;
  // Full-reference metrics cache what depends on the reference; no-reference ones refuse
  // (Error(invalid_argument)).
  virtual void set_reference(const Image& ref) = 0;
  // The score of img (for full-reference metrics: against the reference set last; Error(invalid_argument)
  // when none was set). Errors of the metric itself pass through (size, flat image, ...).
  virtual double compute(const Image& img) const = 0;
};

// Loads the metric's model where it has one (BRISQUE, NIQE): errors of loading happen here.
std::unique_ptr<Metric> create_metric(std::string_view name, const MetricOptions& options = {});

// One-shot: ref must be given for full-reference metrics and must be null for no-reference ones.
double compute_metric(std::string_view name, const Image& img, const Image* ref = nullptr,
                      const MetricOptions& options = {});

// NIQE's pristine model when no path is given: <resource dir>/niqe_image_params.mat (shipped in resources/).
// Error(not_found) naming it when it is not there.
std::filesystem::path default_niqe_model();

}  // namespace hawkeye
