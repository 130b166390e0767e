#include "hawkeye/model/iqa_model.h"

#include "hawkeye/core/error.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/version.h"

namespace hawkeye::model {

std::filesystem::path resolve_model(std::string_view name_or_dir) {
  namespace fs = std::filesystem;
  const fs::path p(name_or_dir);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return p;
  const bool plain_name = p.has_filename() && !p.has_parent_path() && name_or_dir.find('/') == std::string_view::npos;
  if (plain_name) {
    std::string searched;
    for (const auto& dir : model_search_path()) {
      if (fs::is_directory(dir / p, ec)) return dir / p;
      searched += (searched.empty() ? "" : ", ") + dir.string();
    }
    std::vector<std::string> names;
    for (const auto& [name, dir] : list_models()) names.push_back(name);
    const std::string near = closest_name(name_or_dir, names);
    throw Error(ErrorCode::not_found, "model '" + std::string(name_or_dir) + "' is neither a directory nor a model in " + searched +
                                          (near.empty() ? "" : "; did you mean " + near + "?") + " (hawkeye models lists them)");
  }
  throw Error(ErrorCode::not_found, std::string(name_or_dir) + ": no such model directory");
}

std::vector<std::pair<std::string, std::filesystem::path>> list_models() {
  namespace fs = std::filesystem;
  std::map<std::string, fs::path> found;
  for (const auto& dir : model_search_path()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_directory(ec)) continue;
      const fs::path p = entry.path();
      if (fs::is_regular_file(p / "hawkeye.json", ec) || fs::is_regular_file(p / "config.json", ec)) {
        found.emplace(p.filename().string(), p);  // the first search folder wins, as in resolve_model
      }
    }
  }
  return {found.begin(), found.end()};
}

IqaModel::IqaModel(ModelDir dir, std::shared_ptr<Policy> policy, Tokenizer tokenizer)
    : dir_(std::move(dir)), policy_(std::move(policy)), tokenizer_(std::move(tokenizer)) {
  const std::string where = (dir_.dir / "hawkeye.json").string() + ": prompt";
  prompt_ = parse_prompt_spec(dir_.contract.prompt.is_null() ? nlohmann::json("qhawkeye-infer") : dir_.contract.prompt, where);
  for (const auto& s : dir_.contract.stop_tokens) {
    if (auto id = tokenizer_.token_to_id(s)) stop_ids_.push_back(*id);
  }
  if (stop_ids_.empty()) {
    throw Error(ErrorCode::model, (dir_.dir / "hawkeye.json").string() + ": none of the stop tokens is in the tokenizer");
  }
  if (static_cast<std::int64_t>(tokenizer_.vocab_size()) > policy_->decoder().config().vocab_size) {
    throw Error(ErrorCode::model, dir_.dir.string() + ": the tokenizer has more ids (" + std::to_string(tokenizer_.vocab_size()) +
                                      ") than the model's vocabulary (" + std::to_string(policy_->decoder().config().vocab_size) + ")");
  }
}

IqaModel IqaModel::load(std::string_view name_or_dir, const torch::Device& device, c10::optional<torch::ScalarType> dtype) {
  ModelDir md = read_model_dir(resolve_model(name_or_dir));
  auto tokenizer = Tokenizer::load(md.tokenizer_json);
  auto policy = load_policy(md, device, dtype);
  return IqaModel(std::move(md), std::move(policy), std::move(tokenizer));
}

std::string IqaModel::id() const {
  return dir_.contract.model_id.empty() ? dir_.dir.filename().string() : dir_.contract.model_id;
}

const std::vector<std::int64_t>& IqaModel::prompt_ids(int width, int height) {
  const Grid g = policy_->visual_grid(width, height);
  const std::int64_t n = g[0] * g[1] * g[2];
  auto it = prompts_.find(n);
  if (it != prompts_.end()) return it->second;
  const RenderedPrompt r = render_iqa_prompt(tokenizer_, prompt_, static_cast<std::size_t>(n));
  std::vector<std::int64_t> ids(r.ids.begin(), r.ids.end());
  // The chat template's pad token must be the one the model splices visual embeddings into.
  for (const auto& ph : r.images) {
    for (std::size_t i = ph.first; i < ph.first + ph.count; ++i) {
      if (ids[i] != policy_->image_token_id()) {
        throw Error(ErrorCode::model, dir_.dir.string() + ": the tokenizer's image pad id " + std::to_string(ids[i]) +
                                          " differs from config.json's image_token_id " + std::to_string(policy_->image_token_id()));
      }
    }
  }
  return prompts_.emplace(n, std::move(ids)).first->second;
}

std::string IqaModel::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<TokenId> t(ids.begin(), ids.end());
  return tokenizer_.decode(t, /*skip_special=*/true);
}

}  // namespace hawkeye::model
