// An IQA model ready to use: the policy, its tokenizer, its prompt (hawkeye.json) and stop tokens, loaded
// once from a model directory or a shipped model's name.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hawkeye/model/model_dir.h"
#include "hawkeye/text/chat_template.h"
#include "hawkeye/text/tokenizer.h"

namespace hawkeye::model {

// A name ("hawkeye-tiny") is looked up in model_search_path(); a path to a directory is used as is.
// Errors: not_found (naming the folders searched).
std::filesystem::path resolve_model(std::string_view name_or_dir);

// The models a name can find: each folder directly inside a folder of model_search_path() that holds a
// hawkeye.json or config.json, as (name, folder), sorted by name; a name in two search folders is listed once,
// with the folder resolve_model takes.
std::vector<std::pair<std::string, std::filesystem::path>> list_models();

class IqaModel {
 public:
  IqaModel(ModelDir dir, std::shared_ptr<Policy> policy, Tokenizer tokenizer);
  // dtype: as load_policy (none = float32, or bfloat16 for Qwen on CUDA).
  static IqaModel load(std::string_view name_or_dir, const torch::Device& device = torch::kCPU,
                       c10::optional<torch::ScalarType> dtype = c10::nullopt);

  Policy& policy() { return *policy_; }
  const Policy& policy() const { return *policy_; }
  std::shared_ptr<Policy> shared_policy() const { return policy_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const PromptSpec& prompt() const { return prompt_; }
  const IqaContract& contract() const { return dir_.contract; }
  const ModelDir& dir() const { return dir_; }
  const std::vector<std::int64_t>& stop_ids() const { return stop_ids_; }
  std::string id() const;

  // The rendered prompt ids for an image of this size (cached per visual token count).
  const std::vector<std::int64_t>& prompt_ids(int width, int height);
  std::string decode(const std::vector<std::int64_t>& ids) const;

 private:
  ModelDir dir_;
  std::shared_ptr<Policy> policy_;
  Tokenizer tokenizer_;
  PromptSpec prompt_;
  std::vector<std::int64_t> stop_ids_;
  std::map<std::int64_t, std::vector<std::int64_t>> prompts_;
};

}  // namespace hawkeye::model
