#include "convert.h"

#include <pybind11/numpy.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "hawkeye/image/inputs.h"

namespace hawkeye::python {

namespace {

// hawkeye.Error, created once when the module is imported; it lives as long as the interpreter.
PyObject* g_error_type = nullptr;

py::str decode(const std::string& text, const char* errors) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), errors);
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

void raise_hawkeye_error(const Error& e) {
  const py::str message = decode(e.what(), "replace");
  py::object error = py::reinterpret_borrow<py::object>(g_error_type)(message);
  error.attr("code") = py::str(std::string(error_code_name(e.code())));
  error.attr("exit_status") = exit_status(e.code());
  error.attr("message") = message;
  PyErr_SetObject(g_error_type, error.ptr());
}

std::string type_name(const py::handle& object) {
  return py::str(py::type::handle_of(object).attr("__qualname__")).cast<std::string>();
}

bool is_path_like(const py::handle& object) {
  return PyUnicode_Check(object.ptr()) || PyBytes_Check(object.ptr()) || py::hasattr(object, "__fspath__");
}

bool is_pil_image(const py::handle& object) {
  const std::string module = py::str(py::type::handle_of(object).attr("__module__")).cast<std::string>();
  return module.rfind("PIL.", 0) == 0 && py::hasattr(object, "convert") && py::hasattr(object, "mode");
}

std::string shape_text(const py::array& a) {
  std::string s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? "x" : "") + std::to_string(a.shape(i));
  return s.empty() ? "scalar" : s;
}

// Copies an HxWx3 (or the n-th of an NxHxWx3) C-contiguous uint8 array into an Image.
Image image_from(const py::array_t<std::uint8_t, py::array::c_style>& a, py::ssize_t n, bool batch) {
  const int h = static_cast<int>(a.shape(batch ? 1 : 0)), w = static_cast<int>(a.shape(batch ? 2 : 1));
  Image img(w, h, 3);
  const std::size_t bytes = img.pixels.size();
  std::memcpy(img.pixels.data(), a.data() + static_cast<std::size_t>(n) * bytes, bytes);
  return img;
}

// The images of one numpy array: HxWx3 (one) or, where a batch is allowed, NxHxWx3.
void read_array(const py::array& array, bool batch_allowed, const std::string& name, const ImageLimits& limits,
                std::vector<ImageInput>& out) {
  const py::dtype dtype = array.dtype();
  if (dtype.kind() != 'u' || dtype.itemsize() != 1) {
    throw Error(ErrorCode::invalid_argument,
                name + ": an array of dtype " + py::str(dtype.attr("name")).cast<std::string>() +
                    "; hawkeye takes uint8 RGB pixels 0..255 (convert floats in 0..1 with (a * 255).round().astype(numpy.uint8))");
  }
  const bool one = array.ndim() == 3, batch = batch_allowed && array.ndim() == 4;
  if ((!one && !batch) || array.shape(array.ndim() - 1) != 3) {
    throw Error(ErrorCode::invalid_argument,
                name + ": an array of shape " + shape_text(array) + "; hawkeye takes H x W x 3 RGB" +
                    (batch_allowed ? " or N x H x W x 3" : "") + " (a grey H x W image: numpy.stack([a] * 3, axis=-1); RGBA: a[..., :3])");
  }
  const auto contiguous = py::array_t<std::uint8_t, py::array::c_style>::ensure(array);
  if (!contiguous) throw py::error_already_set();
  const py::ssize_t n = batch ? array.shape(0) : 1;
  const py::ssize_t h = array.shape(batch ? 1 : 0), w = array.shape(batch ? 2 : 1);
  if (n == 0 || h == 0 || w == 0) {
    throw Error(ErrorCode::invalid_argument, name + ": an empty array (shape " + shape_text(array) + ")");
  }
  constexpr py::ssize_t kIntMax = std::numeric_limits<int>::max();
  check_image_size(static_cast<int>(std::min(w, kIntMax)), static_cast<int>(std::min(h, kIntMax)), "array", limits, name);
  for (py::ssize_t i = 0; i < n; ++i) {
    ImageInput in;
    in.image = image_from(contiguous, i, batch);
    out.push_back(std::move(in));
  }
}

void read_one(const py::handle& object, bool in_list, bool expand_folders, const std::string& name, const ImageLimits& limits,
              ImageInputs& inputs) {
  if (is_path_like(object)) {
    const std::filesystem::path path = to_path(object, name.c_str());
    std::vector<std::filesystem::path> paths{path};
    if (expand_folders) paths = expand_image_inputs({path.string()});
    if (!in_list && paths.size() == 1 && paths.front() == path) inputs.single = true;
    for (auto& p : paths) inputs.items.push_back({true, std::move(p), {}});
    return;
  }
  if (py::isinstance<py::array>(object)) {
    const auto array = py::reinterpret_borrow<py::array>(object);
    read_array(array, !in_list, name, limits, inputs.items);
    if (!in_list && array.ndim() == 3) inputs.single = true;
    return;
  }
  if (is_pil_image(object)) {
    // PIL's own conversion: grey replicated, alpha dropped, palettes expanded (as hawkeye's decoder does).
    const py::object rgb = object.attr("convert")("RGB");
    const auto array = py::module_::import("numpy").attr("asarray")(rgb).cast<py::array>();
    read_array(array, false, name, limits, inputs.items);
    if (!in_list) inputs.single = true;
    return;
  }
  throw Error(ErrorCode::invalid_argument, name + ": a " + type_name(object) +
                                               "; hawkeye takes a path, a numpy uint8 array (H x W x 3 RGB or N x H x W x 3), "
                                               "a PIL image, or a list of those");
}

}  // namespace

void register_errors(py::module_& module) {
  g_error_type = PyErr_NewExceptionWithDoc(
      "hawkeye.Error",
      "A hawkeye error: .code is the kind of failure (the ErrorCode name: invalid_argument, not_found, io, "
      "corrupt_data, unsupported, limit_exceeded, parse, model, numerical, ...), .exit_status the hawkeye CLI's "
      "exit status for it, .message the message.",
      PyExc_Exception, nullptr);
  if (g_error_type == nullptr) throw py::error_already_set();
  module.add_object("Error", py::handle(g_error_type));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_hawkeye_error(e);
    }
  });
}

py::object to_python(const ordered_json& value) {
  using T = ordered_json::value_t;
  switch (value.type()) {
    case T::boolean:
      return py::bool_(value.get<bool>());
    case T::number_integer:
      return py::int_(value.get<std::int64_t>());
    case T::number_unsigned:
      return py::int_(value.get<std::uint64_t>());
    case T::number_float:
      return py::float_(value.get<double>());
    case T::string:
      return decode(value.get_ref<const std::string&>(), "surrogateescape");
    case T::array: {
      py::list list;
      for (const auto& v : value) list.append(to_python(v));
      return list;
    }
    case T::object: {
      py::dict dict;
      for (auto it = value.begin(); it != value.end(); ++it) dict[decode(it.key(), "surrogateescape")] = to_python(it.value());
      return dict;
    }
    default:
      return py::none();
  }
}

std::filesystem::path to_path(const py::handle& object, const char* what) {
  if (!is_path_like(object)) {
    throw Error(ErrorCode::invalid_argument, std::string(what) + ": a " + type_name(object) + ", not a path (str, bytes or os.PathLike)");
  }
  // The bytes the file system sees, as os.fsencode gives them (surrogateescape for undecodable names).
  const py::bytes encoded = py::module_::import("os").attr("fsencode")(object);
  return std::filesystem::path(static_cast<std::string>(encoded));
}

ImageInputs read_image_inputs(const py::handle& images, bool expand_folders, const ImageLimits& limits) {
  ImageInputs inputs;
  if (py::isinstance<py::list>(images) || py::isinstance<py::tuple>(images)) {
    std::size_t i = 0;
    for (const py::handle item : images) {
      read_one(item, true, expand_folders, "images[" + std::to_string(i) + "]", limits, inputs);
      ++i;
    }
  } else {
    read_one(images, false, expand_folders, "images", limits, inputs);
  }
  if (inputs.items.empty()) throw Error(ErrorCode::invalid_argument, "no images given");
  return inputs;
}

const Image& pixels_of(const ImageInput& input, const ImageLimits& limits, Image& storage) {
  if (!input.is_file) return input.image;
  storage = load_image(input.path, limits);
  return storage;
}

bool PendingPythonError::check_signals() {
  if (type_ != nullptr) return true;
  if (PyErr_CheckSignals() == 0) return false;
  PyErr_Fetch(&type_, &value_, &traceback_);
  return true;
}

void PendingPythonError::raise_if_set() {
  if (type_ == nullptr) return;
  PyErr_Restore(type_, value_, traceback_);
  type_ = value_ = traceback_ = nullptr;
  throw py::error_already_set();
}

}  // namespace hawkeye::python
