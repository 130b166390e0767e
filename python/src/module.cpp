// The Python module `hawkeye` (its compiled part, hawkeye._hawkeye; python/hawkeye/__init__.py re-exports it).
// One native core: the same library calls as the CLI, so the same image gets the same greedy score.
#include "bindings.h"
#include "convert.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/version.h"

PYBIND11_MODULE(_hawkeye, m) {
  namespace py = pybind11;
  m.doc() = "hawkeye: reasoning-style image quality assessment (docs/python.md)";
  hawkeye::python::register_errors(m);
  // A library in someone else's program: warnings and errors only (set_log_level("info") for the CLI's lines).
  hawkeye::log_setup("warn", false);
  m.attr("__version__") = hawkeye::version();
  m.def(
      "set_log_level", [](const std::string& level) { hawkeye::log_setup(level, false); }, py::arg("level"),
      "hawkeye's log level on stderr: trace, debug, info, warn (the default), error or off");
  hawkeye::python::add_metric_bindings(m);
  hawkeye::python::add_model_bindings(m);
}
