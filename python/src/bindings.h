// The parts of the Python module `hawkeye` (module.cpp puts them together).
#pragma once
#include <pybind11/pybind11.h>

namespace hawkeye::python {

// Model, load_model, evaluate, list_models (model_bindings.cpp: the torch half).
void add_model_bindings(pybind11::module_& m);
// Metric, create_metric, list_metrics, correlate (metric_bindings.cpp: the torch-free half).
void add_metric_bindings(pybind11::module_& m);

}  // namespace hawkeye::python
