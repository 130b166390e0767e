// The architecture table: everything the model layer knows about one architecture, in one entry, looked up
// by the name config.json gives ("architecture", or the first of Hugging Face's "architectures").
// read_model_dir, create_policy, load_policy, save_model_dir, checkpoint_names and describe_model_dir ask
// the table and hold no architecture's name themselves, and so does the trainer (model.vision_init);
// docs/adding-a-model.md walks through a new entry.
//
// Each architecture defines its entry in its own source file (tiny_vlm.cpp, qwen2_5_vl.cpp); the table in
// architecture.cpp lists them. Hooks that an architecture does not need are left empty.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/policy.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::model {

struct Architecture {
  // config.json's architecture name; Policy::architecture() of every policy `create` builds returns it.
  std::string name;

  // Builds the policy from config.json (weights not loaded; random initialisation unless a SkipInitGuard
  // lives). Errors: Error(model) naming the key of `source`; Error(unsupported) for features not implemented.
  std::function<std::shared_ptr<Policy>(const nlohmann::json& config, const std::string& source)> create;

  // Optional: settings the directory holds outside config.json, applied to a policy `create` just built from
  // that directory (Qwen2.5-VL: image limits from preprocessor_config.json and hawkeye.json's "image").
  // Errors: Error(model) naming the file.
  std::function<void(Policy& policy, const ModelDir& md)> configure;

  // Optional: module parameter name -> checkpoint tensor name (empty: the names are the same). `stored` holds
  // the names in the checkpoint being read, so that a layout can be recognised; it is empty when writing.
  std::function<NameMap(const std::vector<std::string>& stored)> checkpoint_names;

  // Optional: checkpoint tensors that may be stored but are not loaded (Qwen2.5-VL with tied embeddings: a
  // copy of the output head some checkpoints keep). Any other tensor the model lacks is still an error.
  std::function<std::vector<std::string>(const Policy& policy)> ignored_tensors;

  // Optional: parameters (checkpoint names) that a checkpoint may lack; they then keep the value the
  // architecture's create gave them (hawkeye-tiny's quality embedding: zero, i.e. no effect).
  std::function<std::vector<std::string>(const Policy& policy)> optional_tensors;

  // The dtype load_policy uses on CUDA when it is given none (float32 on the CPU, always).
  torch::ScalarType cuda_dtype = torch::kFloat32;

  // Optional: the IQA contract of a directory without hawkeye.json (model_id = the directory's name). Empty:
  // hawkeye.json is required.
  std::function<IqaContract(const std::string& model_id)> default_contract;

  // Optional: files save_model_dir writes beside config.json and the weights (name -> content).
  std::function<std::map<std::string, std::string>(const Policy& policy)> extra_files;

  // What `hawkeye info` adds for this architecture after the common lines (path, parameters, weight bytes,
  // fp32 memory) and before the contract's: visual tokens and the compute (FLOPs) per image, read from the
  // directory without loading weights (`parameters`: counted from the weight headers).
  std::function<nlohmann::ordered_json(const ModelDir& md, std::int64_t parameters)> describe;

  // Optional: loads pretrained weights of the vision tower from `file` into a policy `create` just built (the
  // trainer's model.vision_init; hawkeye-tiny: MobileNetV2 weights, a .tflite file or one imported by
  // `hawkeye import tflite`, into vision_config.backbone). `source` begins error messages. Errors:
  // Error(invalid_argument) when this policy has no tower to load; those of the weights. Empty: the
  // architecture has none (the trainer refuses model.vision_init).
  std::function<void(Policy& policy, const std::filesystem::path& file, const std::string& source)> load_vision_init;
};

// Every architecture of this build, in a fixed order.
const std::vector<Architecture>& architectures();

// The entry named `name`, or nullptr.
const Architecture* find_architecture(const std::string& name);

// The entry named `name`. Errors: Error(unsupported) "SOURCE: architecture 'NAME' is not supported by this build".
const Architecture& architecture(const std::string& name, const std::string& source);

// The architecture config.json names: "architecture" (hawkeye's), else the first of "architectures"
// (Hugging Face's); "" when it names none.
std::string architecture_name(const nlohmann::json& config);

// The entries, defined beside their models (tiny_vlm.cpp, qwen2_5_vl.cpp).
Architecture tiny_vlm_architecture();
Architecture qwen2_5_vl_architecture();

}  // namespace hawkeye::model
