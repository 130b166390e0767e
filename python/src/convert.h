// What the Python bindings share: hawkeye errors as hawkeye.Error, JSON records as Python objects, and the
// images a caller passes (paths, numpy arrays, PIL images) as files or pixels.
#pragma once
#include <pybind11/pybind11.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "hawkeye/core/error.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/image/image.h"
#include "hawkeye/image/io.h"

namespace hawkeye::python {

namespace py = pybind11;

// Creates hawkeye.Error (attributes: code, the ErrorCode name such as "not_found"; exit_status, the CLI's exit
// status for that code; message) and translates every hawkeye::Error escaping a binding into it.
void register_errors(py::module_& module);

// A JSON value as Python objects: dict, list, str, int, float, bool, None. Strings that are not UTF-8 (file
// names) decode with surrogateescape, as os.fsdecode does.
py::object to_python(const ordered_json& value);

// One image a caller passed: a file, or pixels (RGB, 8-bit).
struct ImageInput {
  bool is_file = false;
  std::filesystem::path path;  // is_file: the file as named (bytes of the file system encoding)
  Image image;                 // !is_file: the pixels, copied from the array or PIL image
};

struct ImageInputs {
  std::vector<ImageInput> items;
  bool single = false;  // one image was passed (a path, an HxWx3 array, a PIL image), not a list or a batch
};

// Reads `images`: a path (str, bytes, os.PathLike), a numpy uint8 array HxWx3 (RGB) or NxHxWx3, a PIL image,
// or a list/tuple of those (arrays in a list: HxWx3). With expand_folders, a path is expanded as `hawkeye score`
// expands its arguments (folders searched recursively, glob patterns). Pixels are checked against `limits`.
// Errors: invalid_argument (another type, dtype or shape, naming what was given and what is expected; no
// image at all), limit_exceeded, not_found (an empty folder or a pattern that matches nothing).
ImageInputs read_image_inputs(const py::handle& images, bool expand_folders, const ImageLimits& limits);

// A path argument (str, bytes, os.PathLike) as a filesystem path; Error(invalid_argument) for anything else.
std::filesystem::path to_path(const py::handle& object, const char* what);

// The pixels of an input: a file is loaded (load_image, with the limits), pixels are returned as they are.
const Image& pixels_of(const ImageInput& input, const ImageLimits& limits, Image& storage);

// Python-side exceptions raised while the GIL was released (e.g. KeyboardInterrupt from PyErr_CheckSignals),
// kept until the GIL is held again and then raised.
class PendingPythonError {
 public:
  // With the GIL held: runs the pending signal handlers; true (and the exception kept) when one raised.
  bool check_signals();
  // With the GIL held: raises the kept exception (py::error_already_set), if any.
  void raise_if_set();

 private:
  PyObject* type_ = nullptr;
  PyObject* value_ = nullptr;
  PyObject* traceback_ = nullptr;
};

}  // namespace hawkeye::python
