#include "hawkeye/model/device.h"

#include <charconv>

#include "hawkeye/core/error.h"

namespace hawkeye::model {

torch::Device parse_device(std::string_view text) {
  if (text == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (text == "cuda") {
    index = 0;
  } else if (text.rfind("cuda:", 0) == 0) {
    const auto digits = text.substr(5);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || index < 0 || index > 255) {
      throw Error(ErrorCode::invalid_argument, "device '" + std::string(text) + "': expected cpu, cuda or cuda:N");
    }
  } else {
    throw Error(ErrorCode::invalid_argument, "device '" + std::string(text) + "': expected cpu, cuda or cuda:N");
  }
  if (!torch::cuda::is_available()) {
    throw Error(ErrorCode::unsupported, "device '" + std::string(text) +
                                            "': no CUDA device is usable (this build links a CPU-only libtorch, or the machine "
                                            "has no NVIDIA GPU/driver); build with -DHAWKEYE_CUDA=ON against a CUDA libtorch "
                                            "2.x (docs/qwen.md)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw Error(ErrorCode::unsupported, "device '" + std::string(text) + "': this machine has " + std::to_string(count) + " CUDA device(s)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string device_name(const torch::Device& device) {
  if (device.is_cpu()) return "cpu";
  return device.str();
}

}  // namespace hawkeye::model
