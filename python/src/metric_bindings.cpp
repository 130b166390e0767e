// hawkeye.create_metric, Metric, list_metrics, correlate: classical metrics under pyiqa's names.
#include <pybind11/stl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>

#include "bindings.h"
#include "convert.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/metrics/registry.h"

namespace hawkeye::python {

namespace {

// The Python names are the registry's (case-insensitive): hawkeye's BRISQUE is `brisque_opencv` everywhere, and
// `brisque` (pyiqa's LIVE release, which scores differently) is refused by the registry with that explanation.
// The registry name of a Python name. Errors: not_found, with the known names (metrics/registry.cpp).
std::string registry_name(std::string name) { return metric_info(name).name; }

ordered_json info_json(const MetricInfo& m) {
  ordered_json j;
  j["name"] = m.name;
  j["kind"] = m.kind == MetricKind::full_reference ? "FR" : "NR";
  j["lowest"] = m.lowest;
  j["highest"] = m.highest;  // None when unbounded
  j["lower_better"] = !m.higher_is_better;
  j["unit"] = m.unit;
  // The names that mean the same metric in pyiqa (calibrated against its values, docs/metrics.md).
  j["pyiqa"] = m.name == "psnr_luma" || m.name == "brisque_opencv" ? ordered_json(nullptr) : ordered_json(m.name);
  j["description"] = m.description;
  return sanitize_json(j);
}

class PyMetric {
 public:
  explicit PyMetric(const std::string& name) {
    const std::string registry = registry_name(name);
    py::gil_scoped_release release;  // BRISQUE and NIQE read their models
    metric_ = create_metric(registry);
  }

  // A score for one image, a list for a list (or an N x H x W x 3 batch). ref: one image for all, or one per image.
  py::object call(const py::handle& dist, const py::handle& ref) {
    const MetricInfo& info = metric_->info();
    const bool fr = info.kind == MetricKind::full_reference;
    if (fr && ref.is_none()) {
      throw Error(ErrorCode::invalid_argument, name() + " is a full-reference metric: give ref (a reference image)");
    }
    if (!fr && !ref.is_none()) throw Error(ErrorCode::invalid_argument, name() + " is a no-reference metric: drop ref");
    const ImageLimits limits;
    const ImageInputs images = read_image_inputs(dist, false, limits);
    ImageInputs refs;
    if (fr) {
      refs = read_image_inputs(ref, false, limits);
      if (refs.items.size() != 1 && refs.items.size() != images.items.size()) {
        throw Error(ErrorCode::invalid_argument, name() + ": " + std::to_string(images.items.size()) + " images but " +
                                                     std::to_string(refs.items.size()) + " references (give one, or one per image)");
      }
    }
    std::vector<double> scores;
    {
      py::gil_scoped_release release;
      const std::lock_guard<std::mutex> lock(mutex_);
      Image ref_storage, storage;
      for (std::size_t i = 0; i < images.items.size(); ++i) {
        if (fr && (i == 0 || refs.items.size() > 1)) {
          metric_->set_reference(pixels_of(refs.items[refs.items.size() > 1 ? i : 0], limits, ref_storage));
        }
        scores.push_back(metric_->compute(pixels_of(images.items[i], limits, storage)));
      }
    }
    if (images.single) return py::float_(scores.front());
    return py::cast(scores);
  }

  std::string name() const { return metric_->info().name; }
  const MetricInfo& info() const { return metric_->info(); }

 private:
  std::unique_ptr<Metric> metric_;
  std::mutex mutex_;  // set_reference changes the metric
};

}  // namespace

void add_metric_bindings(py::module_& m) {
  py::class_<PyMetric>(m, "Metric", "A classical IQA metric (hawkeye.create_metric).")
      .def("__call__", &PyMetric::call, py::arg("dist"), py::arg("ref") = py::none(),
           "The metric of dist (a path, a uint8 HxWx3 RGB array, a PIL image: a float; a list or NxHxWx3: a list), "
           "against ref for full-reference metrics")
      .def_property_readonly("name", &PyMetric::name)
      .def_property_readonly("lower_better", [](const PyMetric& p) { return !p.info().higher_is_better; })
      .def_property_readonly("metric_mode", [](const PyMetric& p) {
        return p.info().kind == MetricKind::full_reference ? "FR" : "NR";
      })
      .def_property_readonly("info", [](const PyMetric& p) { return to_python(info_json(p.info())); })
      .def("__repr__", [](const PyMetric& p) { return "<hawkeye.Metric " + p.name() + ">"; });

  m.def(
      "create_metric", [](const std::string& name) { return std::make_unique<PyMetric>(name); }, py::arg("name"),
      "A metric by its pyiqa name (psnr, ssim, ms_ssim, gmsd, niqe; case-insensitive) or hawkeye's own (psnr_luma, "
      "brisque_opencv: OpenCV's BRISQUE, not pyiqa's brisque)");
  m.def(
      "list_metrics",
      [] {
        py::list out;
        for (const MetricInfo& info : list_metrics()) out.append(to_python(info_json(info)));
        return out;
      },
      "Every metric: name, kind (FR/NR), lowest, highest, lower_better, unit, pyiqa (the same metric's pyiqa name, "
      "or None), description");
  m.def(
      "correlate",
      [](const std::vector<double>& pred, const std::vector<double>& gt, int bootstrap, double confidence,
         std::uint64_t seed) {
        if (bootstrap < 0) throw Error(ErrorCode::invalid_argument, "bootstrap must be 0 (off) or a number of resamples");
        if (!(confidence > 0 && confidence < 1)) throw Error(ErrorCode::invalid_argument, "confidence must lie strictly between 0 and 1");
        CorrelationOptions options;
        options.bootstrap = {bootstrap, confidence, seed};
        CorrelationReport report;
        {
          py::gil_scoped_release release;
          report = correlate(pred, gt, options);
        }
        return to_python(sanitize_json(to_json(report)));
      },
      py::arg("pred"), py::arg("gt"), py::arg("bootstrap") = 0, py::arg("confidence") = 0.95, py::arg("seed") = 0,
      "SRCC, PLCC (raw and after the 4-parameter logistic fit), KRCC and RMSE of predictions vs opinion scores, "
      "as `hawkeye correlate` (undefined statistics are None, with their reason under 'reasons')");
}

}  // namespace hawkeye::python
