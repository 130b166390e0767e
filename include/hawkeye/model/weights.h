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

// A tensor (on CPU, its own memory) from a safetensors entry, converted to `dtype`.
torch::Tensor tensor_from_entry(const SafetensorsSet::Entry& e, torch::ScalarType dtype);

struct LoadReport {
  std::int64_t tensors = 0;
  std::int64_t bytes = 0;
};

// Copies every parameter of `module` from `set`. Errors (ErrorCode::model): tensors missing from the
// checkpoint, tensors of the wrong shape, and (when strict) checkpoint tensors the module does not have —
// all listed by name.
LoadReport load_weights(torch::nn::Module& module, const SafetensorsSet& set, const NameMap& names = nullptr,
                        bool strict = true, const std::string& source = "weights");

// Writes every parameter of `module` (as float32 unless `dtype` says otherwise) to one safetensors file.
void save_weights(const torch::nn::Module& module, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata = {}, const NameMap& names = nullptr,
                  StDtype dtype = StDtype::F32);

StDtype to_st_dtype(torch::ScalarType t);
torch::ScalarType to_torch_dtype(StDtype d);

}  // namespace hawkeye::model
