// Where a model runs: parsing `--device` values and the dtype a model uses there.
#pragma once
#include <torch/torch.h>

#include <string>
#include <string_view>

namespace hawkeye::model {

// "cpu", "cuda" (= cuda:0) or "cuda:N". Errors: invalid_argument (anything else, naming the text),
// unsupported ("cuda" asked for but this libtorch has no CUDA support or the machine no such GPU; the
// message says which and how to build for CUDA).
torch::Device parse_device(std::string_view text);

// "cpu", "cuda:0", ...
std::string device_name(const torch::Device& device);

}  // namespace hawkeye::model
