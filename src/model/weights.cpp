#include "hawkeye/model/weights.h"

#include <cstring>
#include <set>
#include <sstream>

#include "hawkeye/core/error.h"

namespace hawkeye::model {

torch::ScalarType to_torch_dtype(StDtype d) {
  switch (d) {
    case StDtype::F64: return torch::kFloat64;
    case StDtype::F32: return torch::kFloat32;
    case StDtype::F16: return torch::kFloat16;
    case StDtype::BF16: return torch::kBFloat16;
    case StDtype::I64: return torch::kInt64;
    case StDtype::I32: return torch::kInt32;
    case StDtype::I16: return torch::kInt16;
    case StDtype::I8: return torch::kInt8;
    case StDtype::U8: return torch::kUInt8;
    case StDtype::BOOL: return torch::kBool;
  }
  return torch::kFloat32;
}

StDtype to_st_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat64: return StDtype::F64;
    case torch::kFloat32: return StDtype::F32;
    case torch::kFloat16: return StDtype::F16;
    case torch::kBFloat16: return StDtype::BF16;
    case torch::kInt64: return StDtype::I64;
    case torch::kInt32: return StDtype::I32;
    case torch::kInt16: return StDtype::I16;
    case torch::kInt8: return StDtype::I8;
    case torch::kUInt8: return StDtype::U8;
    case torch::kBool: return StDtype::BOOL;
    default: throw Error(ErrorCode::unsupported, std::string("no safetensors dtype for ") + c10::toString(t));
  }
}

bool dtype_can_hold(StDtype stored, torch::ScalarType dtype) {
  const auto t = to_torch_dtype(stored);
  if (dtype == torch::kBool) return t == torch::kBool;
  if (c10::isFloatingType(dtype)) return c10::isFloatingType(t);
  return c10::isIntegralType(t, /*includeBool=*/false);  // an integer buffer (BatchNorm's step counter)
}

torch::Tensor tensor_from_entry(const SafetensorsSet::Entry& e, torch::ScalarType dtype) {
  const auto& info = *e.info;
  // The mapping is not necessarily aligned for the element type: copy bytes into an owned tensor first.
  auto raw = torch::empty(info.shape, torch::TensorOptions().dtype(to_torch_dtype(info.dtype)));
  const std::uint64_t nbytes = info.end - info.begin;
  if (static_cast<std::uint64_t>(raw.nbytes()) != nbytes) {
    throw Error(ErrorCode::corrupt_data, "tensor '" + info.name + "': byte size does not match its shape");
  }
  if (nbytes) std::memcpy(raw.data_ptr(), e.data(), nbytes);
  return raw.scalar_type() == dtype ? raw : raw.to(dtype);
}

namespace {

std::string shape_text(c10::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 12; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 12) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

LoadReport load_weights(torch::nn::Module& module, const SafetensorsSet& set, const NameMap& names, bool strict,
                        const std::string& source) {
  torch::NoGradGuard no_grad;
  LoadReport report;
  std::vector<std::string> missing, misshaped, mistyped, nonfinite;
  std::set<std::string> used;
  auto tensors = module.named_parameters(true);
  const std::size_t parameters = tensors.size();
  for (auto& b : module.named_buffers(true)) tensors.insert(b.key(), b.value());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    auto& item = tensors[i];
    const std::string key = names ? names(item.key()) : item.key();
    if (key.empty()) continue;
    const auto* e = set.find(key);
    if (!e) {
      missing.push_back(key);
      continue;
    }
    auto& p = item.value();
    const auto& shape = e->info->shape;
    if (c10::IntArrayRef(shape) != p.sizes()) {
      misshaped.push_back(key + " (checkpoint " + shape_text(shape) + ", model " + shape_text(p.sizes()) + ")");
      continue;
    }
    // A counter buffer (BatchNorm's num_batches_tracked) is cast with the module to bf16; it may be filled
    // from its integer value. A parameter never takes integers.
    const bool counter = i >= parameters && c10::isIntegralType(to_torch_dtype(e->info->dtype), false);
    if (!dtype_can_hold(e->info->dtype, p.scalar_type()) && !counter) {
      mistyped.push_back(key + " (checkpoint " + std::string(st_dtype_name(e->info->dtype)) + ", model " + c10::toString(p.scalar_type()) + ")");
      continue;
    }
    const auto t = tensor_from_entry(*e, p.scalar_type());
    // NaN or Inf weights would only show later as answers that never parse: refuse them here (one pass).
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) nonfinite.push_back(key);
    p.copy_(t);
    used.insert(key);
    ++report.tensors;
    report.bytes += static_cast<std::int64_t>(e->info->end - e->info->begin);
  }
  if (!missing.empty()) throw Error(ErrorCode::model, source + ": missing tensors: " + list(missing));
  if (!misshaped.empty()) throw Error(ErrorCode::model, source + ": tensors with the wrong shape: " + list(misshaped));
  if (!mistyped.empty()) throw Error(ErrorCode::model, source + ": tensors stored in a dtype the model's cannot be: " + list(mistyped));
  if (!nonfinite.empty()) throw Error(ErrorCode::model, source + ": tensors holding NaN or Inf: " + list(nonfinite));
  if (strict) {
    std::vector<std::string> unexpected;
    for (const auto& n : set.names())
      if (!used.count(n)) unexpected.push_back(n);
    if (!unexpected.empty()) throw Error(ErrorCode::model, source + ": tensors the model does not have: " + list(unexpected));
  }
  return report;
}

void require_finite_weights(const torch::nn::Module& module, const std::string& what) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> bad;
  auto all = module.named_parameters(true);
  for (const auto& b : module.named_buffers(true)) all.insert(b.key(), b.value());
  for (const auto& item : all) {
    const auto& t = item.value();
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) bad.push_back(item.key());
  }
  if (!bad.empty()) throw Error(ErrorCode::numerical, what + ": parameters holding NaN or Inf: " + list(bad));
}

void save_weights(const torch::nn::Module& module, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata, const NameMap& names, StDtype dtype) {
  std::vector<torch::Tensor> keep;
  std::vector<StTensorToWrite> tensors;
  auto all = module.named_parameters(true);
  for (const auto& b : module.named_buffers(true)) all.insert(b.key(), b.value());
  for (const auto& item : all) {
    const std::string key = names ? names(item.key()) : item.key();
    if (key.empty()) continue;
    // Floating tensors in the requested dtype; integer buffers (BatchNorm's step counter) as they are.
    const auto target = item.value().is_floating_point() ? to_torch_dtype(dtype) : item.value().scalar_type();
    auto t = item.value().detach().to(torch::kCPU).to(target).contiguous();
    keep.push_back(t);
    tensors.push_back({key, to_st_dtype(target), t.sizes().vec(), t.data_ptr(), static_cast<std::uint64_t>(t.nbytes())});
  }
  write_safetensors(path, tensors, metadata);
}

}  // namespace hawkeye::model
