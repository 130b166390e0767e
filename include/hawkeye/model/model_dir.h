// Model directories (ARCHITECTURE.md §3): config.json (architecture), weights (model.safetensors or a
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
  std::string architecture;
  std::filesystem::path tokenizer_json;
};

// Reads and validates config.json + hawkeye.json and checks that weights and tokenizer.json exist.
// Errors: not_found (missing files, naming them), model (invalid content).
ModelDir read_model_dir(const std::filesystem::path& dir);

// Builds the policy named by config.json (weights not loaded).
std::shared_ptr<Policy> create_policy(const nlohmann::json& config, const std::string& source);

// read_model_dir + create_policy + load_weights, moved to `device`, in eval mode.
std::shared_ptr<Policy> load_policy(const ModelDir& md, const torch::Device& device = torch::kCPU);

// Writes a complete model directory atomically (into a temporary sibling, then renamed into place):
// config.json, hawkeye.json, model.safetensors, tokenizer.json copied from `tokenizer_json`, plus any
// extra files (name -> content), e.g. MODEL_CARD.md.
void save_model_dir(const std::filesystem::path& dir, const Policy& policy, const nlohmann::json& config,
                    const IqaContract& contract, const std::filesystem::path& tokenizer_json,
                    const std::map<std::string, std::string>& extra_files = {});

// What `hawkeye info MODEL_DIR` prints: architecture, parameter count (from the weight headers),
// estimated compute per image at the configured resolution, prompt preset, score range, memory estimate.
nlohmann::ordered_json describe_model_dir(const std::filesystem::path& dir);

// Weight-name mapping for a policy (identity for hawkeye-tiny).
NameMap checkpoint_names(const Policy& policy);

}  // namespace hawkeye::model
