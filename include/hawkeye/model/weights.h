// Moving module weights in and out of safetensors files, with checks that name every missing, unexpected
// or mis-shaped tensor.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "hawkeye/core/safetensors.h"

namespace hawkeye::model {

// Maps a module's parameter name to the checkpoint's tensor name ("" = not stored in checkpoints).
using NameMap = std::function<std::string(const std::string&)>;

// Whether a tensor stored as `stored` can be loaded into a `dtype` tensor: floating point into floating
// point, integers into integers, bool into bool (an I32 tensor for a float parameter is a broken file, not a
// value to convert).
bool dtype_can_hold(StDtype stored, torch::ScalarType dtype);

// A tensor (on CPU, its own memory) from a safetensors entry, converted to `dtype` (any to any: loaders of
// parameters check dtype_can_hold first). Errors: corrupt_data (byte size does not match the shape).
torch::Tensor tensor_from_entry(const SafetensorsSet::Entry& e, torch::ScalarType dtype);

struct LoadReport {
  std::int64_t tensors = 0;
  std::int64_t bytes = 0;
};

// Copies every parameter of `module` from `set`. Errors (ErrorCode::model): tensors missing from the
// checkpoint, tensors of the wrong shape, stored in a dtype the parameter cannot be, or holding NaN/Inf,
// and (when strict) checkpoint tensors the module does not have — all listed by name.
LoadReport load_weights(torch::nn::Module& module, const SafetensorsSet& set, const NameMap& names = nullptr,
                        bool strict = true, const std::string& source = "weights");

// Throws Error(numerical) "<what>: parameters holding NaN or Inf: <names>" when a floating-point parameter
// or buffer of `module` is not finite. Every model directory and checkpoint is checked before it is written.
void require_finite_weights(const torch::nn::Module& module, const std::string& what);

// Writes every parameter of `module` (as float32 unless `dtype` says otherwise) to one safetensors file.
void save_weights(const torch::nn::Module& module, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata = {}, const NameMap& names = nullptr,
                  StDtype dtype = StDtype::F32);

StDtype to_st_dtype(torch::ScalarType t);
torch::ScalarType to_torch_dtype(StDtype d);

}  // namespace hawkeye::model
