// Model directories (docs/architecture.md §3): config.json (architecture), weights (model.safetensors or a
// sharded set with model.safetensors.index.json), tokenizer.json, and hawkeye.json (the IQA contract:
// prompt, score range and direction, image limits, default sampling).
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "hawkeye/model/generate.h"
#include "hawkeye/model/policy.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::model {

struct IqaContract {
  int format_version = 1;
  std::string model_id;
  nlohmann::json prompt;             // interpreted by the text layer (preset or explicit texts)
  double score_min = 1.0, score_max = 5.0;
  bool higher_is_better = true;
  SamplingParams sampling;           // defaults for rollouts/`--samples` (greedy scoring ignores them)
  std::vector<std::string> stop_tokens{"<|im_end|>", "<|endoftext|>"};
  nlohmann::json raw;                // the whole file
  static IqaContract from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

struct ModelDir {
  std::filesystem::path dir;
  nlohmann::json config;
  IqaContract contract;
  bool default_contract = false;     // no hawkeye.json: the architecture's default contract is used
  nlohmann::json preprocessor;       // preprocessor_config.json (null when the directory has none)
  std::string architecture;
  std::filesystem::path tokenizer_json;
};

// What each architecture adds to these functions (its default contract, extra files, checkpoint names, the
// lines of `hawkeye info`) is its entry in the architecture table (architecture.h).

// Reads and validates config.json + hawkeye.json and checks that weights and tokenizer.json exist.
// Only an architecture with a default contract may lack hawkeye.json: a Qwen2.5-VL directory as downloaded
// from a model hub gets the default contract (prompt preset "qhawkeye-infer", scores 1-5, higher is better,
// Q-Hawkeye's sampling) and its image limits come from preprocessor_config.json (hawkeye.json's "image":
// {"min_pixels", "max_pixels"} wins when given). Errors: not_found (missing files, naming them), model
// (invalid content).
ModelDir read_model_dir(const std::filesystem::path& dir);

// What identifies a model beyond its id: a 64-bit hash ("fnv64-" + 16 hex digits, not cryptographic) of its
// config, contract, tokenizer and every weight tensor (name, dtype, shape, bytes: independent of sharding).
// A retrained model with the same id gets another one. Reads the weights once (about 1 s per 2 GB).
std::string model_fingerprint(const ModelDir& md);

// Builds the policy named by config.json (weights not loaded). Errors: Error(unsupported) for an
// architecture this build does not know, naming it; the architecture's own errors for bad config values.
std::shared_ptr<Policy> create_policy(const nlohmann::json& config, const std::string& source);

// read_model_dir + create_policy + load_weights, moved to `device`, in eval mode. Weights stored in bf16 or
// fp16 are converted to the policy's dtype: `dtype` when given, else float32 on CPU and the architecture's
// cuda_dtype on CUDA (bfloat16 for Qwen2.5-VL: a 7B model in float32 does not fit most GPUs).
std::shared_ptr<Policy> load_policy(const ModelDir& md, const torch::Device& device = torch::kCPU,
                                    c10::optional<torch::ScalarType> dtype = c10::nullopt);

// Writes a complete model directory atomically (into a temporary sibling, then renamed into place):
// config.json, hawkeye.json, model.safetensors, tokenizer.json copied from `tokenizer_json`, plus the
// architecture's own files (Qwen2.5-VL: preprocessor_config.json) and any extra files (name -> content),
// e.g. MODEL_CARD.md.
void save_model_dir(const std::filesystem::path& dir, const Policy& policy, const nlohmann::json& config,
                    const IqaContract& contract, const std::filesystem::path& tokenizer_json,
                    const std::map<std::string, std::string>& extra_files = {});

// What `hawkeye info MODEL_DIR` prints: architecture, parameter count (from the weight headers),
// estimated compute per image at the configured resolution, prompt preset, score range, memory estimate.
// A directory of an architecture this build does not know gets the lines every directory has.
nlohmann::ordered_json describe_model_dir(const std::filesystem::path& dir);

// Weight-name mapping for a policy (nullptr, the identity, for hawkeye-tiny and for policies the table does
// not know). For Qwen2.5-VL the checkpoint's layout (transformers before/after 4.52) is read from
// `checkpoint` when given; without it the earlier layout is used (what save_model_dir writes).
NameMap checkpoint_names(const Policy& policy, const SafetensorsSet* checkpoint = nullptr);

}  // namespace hawkeye::model
