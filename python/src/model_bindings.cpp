// hawkeye.load_model, Model.score, hawkeye.evaluate, hawkeye.list_models: the torch half of the module.
#include <pybind11/stl.h>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include "bindings.h"
#include "convert.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/eval/evaluator.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

namespace hawkeye::python {

namespace {

namespace fs = std::filesystem;

// What the `hawkeye` executable does first (apps/hawkeye/main.cpp): glibc keeps freed memory inside the
// process instead of handing the encoder's large activation buffers back after every batch (half of the
// encoder's time otherwise). Process-wide; HAWKEYE_MALLOC_DEFAULT=1 keeps glibc's defaults.
void keep_freed_memory() {
  static const bool done = [] {
    if (const char* keep = std::getenv("HAWKEYE_MALLOC_DEFAULT"); keep && keep[0] == '1') return false;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_ARENA_MAX, 1);  // threads other than the first would map their large blocks anyway (main.cpp)
    return true;
  }();
  (void)done;
}

// A loaded model. IqaModel is not safe to use from two threads at once (its prompt cache, the policy's
// buffers): calls take the mutex, after releasing the GIL, so other Python threads keep running meanwhile.
class Model {
 public:
  Model(const std::string& name_or_dir, const std::string& device, std::optional<int> threads) : device_(torch::kCPU) {
    py::gil_scoped_release release;
    keep_freed_memory();
    apply_threads(threads.value_or(0));  // process-wide, as `hawkeye --threads N` (None: all cores)
    check_blas(true);
    device_ = model::parse_device(device);
    // None: as `hawkeye score` without --threads, the count follows the machine's load from batch to batch.
    if (!threads && device_.is_cpu()) governor_.emplace(0);
    if (threads) fixed_threads_ = resolve_thread_count(*threads);
    model_ = std::make_unique<model::IqaModel>(model::IqaModel::load(name_or_dir, device_));
  }

  py::list score(const py::handle& images, std::int64_t samples, bool reasoning, std::int64_t batch_size, std::uint64_t seed,
                 const std::string& errors, bool completion, const std::string& readout);
  py::dict evaluate(const std::string& manifest_path, std::int64_t samples, const py::object& out, bool resume,
                    std::int64_t batch_size, std::int64_t max_images, std::uint64_t seed, double model_load_seconds,
                    const std::string& readout);

  py::object info() const { return to_python(sanitize_json(eval::model_json(*model_))); }
  std::string id() const { return model_->id(); }
  std::string device() const { return model::device_name(device_); }
  std::string repr() const {
    return "<hawkeye.Model " + model_->id() + " (" + model_->dir().architecture + ") on " + device() + ">";
  }

 private:
  ImageLimits limits() const {
    ImageLimits l;
    l.max_aspect_ratio = model_->policy().max_aspect_ratio();
    return l;
  }
  model::ScoreOptions score_options(std::int64_t samples, std::uint64_t seed, const std::string& readout) const {
    if (samples < 0 || samples > 1024) {
      throw Error(ErrorCode::invalid_argument, "samples must be 0 or 1 (greedy) or 2..1024 sampled answers, not " + std::to_string(samples));
    }
    const model::Readout r = model::readout_from_name(readout);
    if (r != model::Readout::answer && samples > 1) {
      throw Error(ErrorCode::invalid_argument, "readout='" + readout + "' reads a greedy answer; it cannot be combined with samples > 1");
    }
    // samples=1 is one answer: the greedy one (deterministic), as `hawkeye score` without --samples.
    auto o = model::default_score_options(*model_, samples <= 1 ? 0 : samples, seed);
    o.readout = r;
    return o;
  }

  torch::Device device_;
  std::unique_ptr<model::IqaModel> model_;
  std::optional<ThreadGovernor> governor_;
  int fixed_threads_ = 0;  // threads=N: re-asserted on the calling thread before each call (another model's
                           // governor may have changed that thread's count)
  // Before scoring on the calling thread: the governor's choice, or this model's fixed count.
  void keep_threads() {
    if (governor_) governor_->update();
    else if (fixed_threads_ > 0 && at::get_num_threads() != fixed_threads_) at::set_num_threads(fixed_threads_);
  }  // threads=None on the CPU: the thread count follows the load
  std::mutex mutex_;
};

void check_batch(std::int64_t batch_size) {
  if (batch_size < 1 || batch_size > 4096) {
    throw Error(ErrorCode::invalid_argument, "batch_size must be 1..4096, not " + std::to_string(batch_size));
  }
}

// The identity that seeds an array's sampled answers: its content, so the same pixels get the same samples
// wherever they sit in a batch.
std::string array_identity(const Image& image) {
  const std::string_view bytes(reinterpret_cast<const char*>(image.pixels.data()), image.pixels.size());
  char buf[64];
  std::snprintf(buf, sizeof buf, "array:%dx%d:%016llx", image.width, image.height,
                static_cast<unsigned long long>(hash64(bytes)));
  return buf;
}

py::list Model::score(const py::handle& images, std::int64_t samples, bool reasoning, std::int64_t batch_size,
                      std::uint64_t seed, const std::string& errors, bool completion, const std::string& readout) {
  if (errors != "raise" && errors != "record") {
    throw Error(ErrorCode::invalid_argument, "errors must be 'raise' or 'record', not '" + errors + "'");
  }
  check_batch(batch_size);
  const ImageLimits image_limits = limits();
  const ImageInputs inputs = read_image_inputs(images, true, image_limits);
  eval::BatchScoringOptions bo;
  bo.score = score_options(samples, seed, readout);
  bo.batch = batch_size;
  bo.loader_threads = std::clamp(resolve_thread_count(0) / 2, 1, 4);  // as `hawkeye score`
  bo.limits = image_limits;
  bo.threads = governor_ ? &*governor_ : nullptr;
  eval::RecordFields fields;
  fields.reasoning = reasoning;
  fields.completion = completion;
  fields.answer = bo.score.readout != model::Readout::answer;

  std::atomic<bool> stop{false};
  bo.stop = &stop;
  std::vector<ordered_json> records;
  std::optional<Error> load_error;
  PendingPythonError pending;
  {
    py::gil_scoped_release release;
    const std::lock_guard<std::mutex> lock(mutex_);
    auto on_image = [&](const eval::ScoredImage& s) {
      if (s.load_failed() && errors == "raise" && !load_error) {
        load_error.emplace(s.error_code, s.error);
        stop = true;
      }
      ordered_json record = eval::image_record(s, model_->contract(), bo.score.samples, fields);
      if (!inputs.items[s.index].is_file) record["path"] = nullptr;
      records.push_back(sanitize_json(std::move(record)));
      const py::gil_scoped_acquire gil;  // Ctrl-C stops the run after the current batch
      if (pending.check_signals()) stop = true;
    };
    bool all_files = true;
    for (const auto& in : inputs.items) all_files = all_files && in.is_file;
    if (all_files) {
      // The pipeline of `hawkeye score`: the next batch decodes while the model scores this one.
      std::vector<fs::path> paths;
      for (const auto& in : inputs.items) paths.push_back(in.path);
      keep_threads();
      eval::score_files(*model_, paths, {}, bo, on_image);
    } else {
      const auto B = static_cast<std::size_t>(batch_size);
      for (std::size_t first = 0; first < inputs.items.size() && !stop; first += B) {
        const std::size_t last = std::min(inputs.items.size(), first + B);
        std::vector<Image> storage(last - first);
        std::vector<eval::ScoredImage> batch(last - first);
        std::vector<const Image*> pixels;
        std::vector<std::string> ids;
        for (std::size_t i = first; i < last; ++i) {
          eval::ScoredImage& s = batch[i - first];
          s.index = i;
          const ImageInput& in = inputs.items[i];
          if (in.is_file) s.path = in.path;
          try {
            pixels.push_back(&pixels_of(in, image_limits, storage[i - first]));
            ids.push_back(in.is_file ? in.path.string() : array_identity(in.image));
          } catch (const Error& e) {
            s.status = ScoreStatus::load_error;
            s.error = e.what();
            s.error_code = e.code();
          }
        }
        std::vector<model::ImageScore> scores;
        if (!pixels.empty()) {
          keep_threads();
          scores = model::score_images(*model_, pixels, bo.score, ids);
        }
        std::size_t next = 0;
        for (auto& s : batch) {
          if (!s.load_failed()) {
            s.result = std::move(scores[next++]);
            s.status = s.result.status;
          }
          on_image(s);
        }
      }
    }
  }
  pending.raise_if_set();
  if (load_error) throw *load_error;
  py::list out;
  for (const auto& r : records) out.append(to_python(r));
  return out;
}

py::dict Model::evaluate(const std::string& manifest_path, std::int64_t samples, const py::object& out, bool resume,
                         std::int64_t batch_size, std::int64_t max_images, std::uint64_t seed, double model_load_seconds,
                         const std::string& readout) {
  check_batch(batch_size);
  if (max_images < 0) throw Error(ErrorCode::invalid_argument, "max_images must be 0 (all) or positive");
  const std::optional<fs::path> out_dir = out.is_none() ? std::nullopt : std::optional<fs::path>(to_path(out, "out"));
  if (resume && !out_dir) throw Error(ErrorCode::invalid_argument, "resume=True needs out=DIR (the folder of the earlier run)");
  eval::EvalOptions eo;
  eo.score = score_options(samples, seed, readout);
  eo.batch = batch_size;
  eo.loader_threads = std::clamp(resolve_thread_count(0) / 2, 1, 4);
  eo.threads = governor_ ? &*governor_ : nullptr;
  eo.max_images = max_images;
  eo.resume = resume;
  std::atomic<bool> stop{false};
  eo.stop = &stop;
  PendingPythonError pending;
  eo.on_progress = [&](std::size_t, std::size_t) {
    const py::gil_scoped_acquire gil;
    if (pending.check_signals()) stop = true;
  };
  eval::EvalReport report;
  {
    py::gil_scoped_release release;
    const Manifest manifest = read_manifest(manifest_path);
    if (manifest.rows.empty()) throw Error(ErrorCode::invalid_argument, manifest_path + ": the manifest has no rows");
    const std::lock_guard<std::mutex> lock(mutex_);
    std::optional<PathLock> folder;
    if (out_dir) {
      folder.emplace(eval::open_eval_folder(*out_dir, resume));
      eo.predictions = *out_dir / "predictions.jsonl";
    }
    keep_threads();
    report = eval::evaluate(*model_, manifest, eo);
    report.model_load_seconds = model_load_seconds;
    if (out_dir) eval::write_eval_outputs(*out_dir, report);  // a stopped run's partial report too, as the CLI
  }
  pending.raise_if_set();
  return to_python(sanitize_json(report.to_json()));
}

}  // namespace

void add_model_bindings(py::module_& m) {
  py::class_<Model>(m, "Model", "An IQA model loaded once (hawkeye.load_model); scores images with reasoning.")
      .def_property_readonly("id", &Model::id, "The model's id (hawkeye.json model_id, or its folder's name)")
      .def_property_readonly("device", &Model::device)
      .def_property_readonly("info", &Model::info, "id, path, architecture, parameters, range, direction")
      .def("score", &Model::score, py::arg("images"), py::arg("samples") = 1, py::arg("reasoning") = true,
           py::arg("batch_size") = 16, py::arg("seed") = 0, py::arg("errors") = "raise", py::arg("completion") = false,
           py::arg("readout") = "answer",
           "Scores images; returns one dict per image with the fields of `hawkeye score`'s JSONL record (docs/python.md)")
      .def("__repr__", &Model::repr);

  m.def(
      "load_model",
      [](const std::string& name_or_dir, const std::string& device, std::optional<int> threads) {
        return std::make_unique<Model>(name_or_dir, device, threads);
      },
      py::arg("name") = "hawkeye-tiny", py::arg("device") = "cpu", py::arg("threads") = py::none(),
      "Loads a shipped model by name (hawkeye.list_models()) or a model directory. threads: torch/OpenMP threads "
      "for the whole process (None: as the CLI without --threads, up to all cores, fewer while other processes "
      "take cores).");

  m.def(
      "evaluate",
      [](const py::object& model, const py::object& manifest, std::int64_t samples, const py::object& out, bool resume,
         std::int64_t batch_size, std::int64_t max_images, std::uint64_t seed, const std::string& readout) {
        const std::string manifest_path = to_path(manifest, "manifest").string();
        if (py::isinstance<Model>(model)) {
          return model.cast<Model&>().evaluate(manifest_path, samples, out, resume, batch_size, max_images, seed,
                                               std::numeric_limits<double>::quiet_NaN(), readout);
        }
        const std::string name = to_path(model, "model").string();
        const auto t0 = std::chrono::steady_clock::now();
        Model loaded(name, "cpu", std::nullopt);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return loaded.evaluate(manifest_path, samples, out, resume, batch_size, max_images, seed, seconds, readout);
      },
      py::arg("model"), py::arg("manifest"), py::arg("samples") = 1, py::arg("out") = py::none(),
      py::arg("resume") = false, py::arg("batch_size") = 16, py::arg("max_images") = 0, py::arg("seed") = 0,
      py::arg("readout") = "answer",
      "The standard protocol of `hawkeye eval` on a manifest; returns report.json's dict. out=DIR also writes "
      "predictions.jsonl, report.json and scatter.png there.");

  m.def(
      "list_models",
      [] {
        std::vector<std::string> names;
        for (const auto& [name, dir] : model::list_models()) names.push_back(name);
        return names;
      },
      "Names of the models load_model finds by name ($HAWKEYE_MODEL_PATH, the shipped models/).");
}

}  // namespace hawkeye::python
