#include "hawkeye/model/model_dir.h"

#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/init.h"
#include "hawkeye/model/qwen2_5_vl.h"
#include "hawkeye/model/tiny_vlm.h"
#include "hawkeye/model/weights.h"

namespace hawkeye::model {

namespace {

nlohmann::json read_json(const fs::path& path) {
  const std::string text = read_file(path, 64u << 20);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::model, path.string() + ": invalid JSON: " + e.what());
  }
}

// The directory's name (also for paths written with a trailing slash).
std::string dir_name(const fs::path& dir) {
  const fs::path p = dir.lexically_normal();
  return p.has_filename() ? p.filename().string() : p.parent_path().filename().string();
}

// Image limits of a Qwen2.5-VL directory: preprocessor_config.json, then hawkeye.json's "image" section.
QwenImageConfig qwen_image_config(const ModelDir& md) {
  QwenImageConfig c;
  if (md.preprocessor.is_object()) c = QwenImageConfig::from_json(md.preprocessor, (md.dir / "preprocessor_config.json").string());
  if (md.contract.raw.is_object() && md.contract.raw.contains("image")) {
    const std::string where = (md.dir / "hawkeye.json").string() + ": image";
    const auto& img = md.contract.raw["image"];
    if (!img.is_object()) throw Error(ErrorCode::model, where + " must be an object");
    for (const char* key : {"min_pixels", "max_pixels"}) {
      if (!img.contains(key)) continue;
      if (!img[key].is_number_integer()) throw Error(ErrorCode::model, where + "." + key + " must be an integer");
      (std::string(key) == "min_pixels" ? c.min_pixels : c.max_pixels) = img[key].get<std::int64_t>();
    }
    c.validate(where);
  }
  return c;
}

}  // namespace

IqaContract default_qwen_contract(const std::string& model_id) {
  IqaContract c;
  c.model_id = model_id;
  c.prompt = "qhawkeye-infer";
  // Q-Hawkeye's rollout settings (qhawkeye-method.md §3); greedy scoring uses max_new_tokens only.
  c.sampling.temperature = 1.0;
  c.sampling.top_k = 50;
  c.sampling.top_p = 1.0;
  c.sampling.max_new_tokens = 2048;
  c.raw = {{"contract_source", "default for Qwen2.5-VL (the model directory has no hawkeye.json)"}};
  return c;
}

IqaContract IqaContract::from_json(const nlohmann::json& j, const std::string& source) {
  IqaContract c;
  if (!j.is_object()) throw Error(ErrorCode::model, source + ": must be a JSON object");
  c.raw = j;
  try {
    c.format_version = j.value("format_version", 1);
    if (c.format_version != 1) {
      throw Error(ErrorCode::model, source + ": format_version " + std::to_string(c.format_version) + " is not supported (1 is)");
    }
    c.model_id = j.value("model_id", std::string());
    c.prompt = j.value("prompt", nlohmann::json::object());
    if (j.contains("score")) {
      const auto& s = j["score"];
      if (s.contains("range")) {
        const auto& r = s["range"];
        if (!r.is_array() || r.size() != 2) throw Error(ErrorCode::model, source + ": score.range must be [min, max]");
        c.score_min = r[0].get<double>();
        c.score_max = r[1].get<double>();
      }
      const std::string dir = s.value("direction", std::string("higher_is_better"));
      if (dir != "higher_is_better" && dir != "lower_is_better") {
        throw Error(ErrorCode::model, source + ": score.direction must be higher_is_better or lower_is_better");
      }
      c.higher_is_better = dir == "higher_is_better";
    }
    if (!(c.score_min < c.score_max)) throw Error(ErrorCode::model, source + ": score.range must have min < max");
    if (j.contains("sampling")) {
      const auto& s = j["sampling"];
      c.sampling.temperature = s.value("temperature", c.sampling.temperature);
      c.sampling.top_k = s.value("top_k", c.sampling.top_k);
      c.sampling.top_p = s.value("top_p", c.sampling.top_p);
      c.sampling.max_new_tokens = s.value("max_new_tokens", c.sampling.max_new_tokens);
      if (!(c.sampling.temperature > 0) || c.sampling.top_k < 0 || !(c.sampling.top_p > 0 && c.sampling.top_p <= 1) ||
          c.sampling.max_new_tokens <= 0 || c.sampling.max_new_tokens > 1'000'000) {
        throw Error(ErrorCode::model, source + ": sampling values out of range");
      }
    }
    if (j.contains("stop_tokens")) c.stop_tokens = j["stop_tokens"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::model, source + ": wrong type in hawkeye.json: " + e.what());
  }
  return c;
}

nlohmann::json IqaContract::to_json() const {
  nlohmann::json j = raw.is_object() ? raw : nlohmann::json::object();
  j["format_version"] = format_version;
  j["model_id"] = model_id;
  j["prompt"] = prompt;
  j["score"] = {{"range", {score_min, score_max}}, {"direction", higher_is_better ? "higher_is_better" : "lower_is_better"}};
  j["sampling"] = {{"temperature", sampling.temperature},
                   {"top_k", sampling.top_k},
                   {"top_p", sampling.top_p},
                   {"max_new_tokens", sampling.max_new_tokens}};
  j["stop_tokens"] = stop_tokens;
  return j;
}

ModelDir read_model_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(ErrorCode::not_found, dir.string() + ": no such model directory");
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::invalid_argument, dir.string() + ": a model is a directory");
  ModelDir md;
  md.dir = dir;
  for (const char* f : {"config.json", "tokenizer.json"}) {
    if (!fs::exists(dir / f, ec)) throw Error(ErrorCode::not_found, (dir / f).string() + ": missing (a model directory needs it)");
  }
  if (!fs::exists(dir / "model.safetensors", ec) && !fs::exists(dir / "model.safetensors.index.json", ec)) {
    throw Error(ErrorCode::not_found, dir.string() + ": no weights (model.safetensors or model.safetensors.index.json)");
  }
  md.config = read_json(dir / "config.json");
  if (!md.config.is_object()) throw Error(ErrorCode::model, (dir / "config.json").string() + ": must be a JSON object");
  if (md.config.contains("architecture") && md.config["architecture"].is_string()) {
    md.architecture = md.config["architecture"].get<std::string>();
  } else if (md.config.contains("architectures") && md.config["architectures"].is_array() && !md.config["architectures"].empty()) {
    md.architecture = md.config["architectures"][0].get<std::string>();
  } else {
    throw Error(ErrorCode::model, (dir / "config.json").string() + ": names no architecture");
  }
  if (fs::exists(dir / "hawkeye.json", ec)) {
    md.contract = IqaContract::from_json(read_json(dir / "hawkeye.json"), (dir / "hawkeye.json").string());
  } else if (md.architecture == Qwen2_5_VL::kArchitecture) {
    md.contract = default_qwen_contract(dir_name(dir));
    md.default_contract = true;
  } else {
    throw Error(ErrorCode::not_found, (dir / "hawkeye.json").string() + ": missing (a model directory needs it)");
  }
  if (fs::exists(dir / "preprocessor_config.json", ec)) md.preprocessor = read_json(dir / "preprocessor_config.json");
  md.tokenizer_json = dir / "tokenizer.json";
  return md;
}

std::shared_ptr<Policy> create_policy(const nlohmann::json& config, const std::string& source) {
  const std::string arch = config.value("architecture", std::string());
  if (arch == "hawkeye-tiny") return std::make_shared<TinyVlm>(TinyConfig::from_json(config, source));
  std::string named = arch;
  if (named.empty() && config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty()) {
    named = config["architectures"][0].get<std::string>();
  }
  if (named == Qwen2_5_VL::kArchitecture) return std::make_shared<Qwen2_5_VL>(Qwen2_5_VLConfig::from_json(config, source));
  throw Error(ErrorCode::unsupported, source + ": architecture '" + named + "' is not supported by this build");
}

NameMap checkpoint_names(const Policy& policy, const SafetensorsSet* checkpoint) {
  if (dynamic_cast<const Qwen2_5_VL*>(&policy)) return qwen_checkpoint_names(checkpoint ? checkpoint->names() : std::vector<std::string>{});
  return nullptr;
}

std::shared_ptr<Policy> load_policy(const ModelDir& md, const torch::Device& device, c10::optional<torch::ScalarType> dtype) {
  std::shared_ptr<Policy> policy;
  {
    SkipInitGuard no_random_init;  // every parameter is loaded below (a missing one is an error)
    policy = create_policy(md.config, (md.dir / "config.json").string());
  }
  auto* qwen = dynamic_cast<Qwen2_5_VL*>(policy.get());
  if (qwen) qwen->set_image_config(qwen_image_config(md));
  const torch::ScalarType dt = dtype ? *dtype : (device.is_cuda() && qwen ? torch::kBFloat16 : torch::kFloat32);
  if (dt != torch::kFloat32) policy->to(dt);  // before loading: bf16 weights are then copied as they are
  const auto set = SafetensorsSet::open(md.dir);
  const auto names = checkpoint_names(*policy, &set);
  if (qwen && qwen->config().text.tie_word_embeddings && set.find("lm_head.weight")) {
    // Some tied checkpoints also store the output head (a copy of the embeddings); transformers ignores it.
    load_weights(*policy, set, names, false, md.dir.string());
    std::set<std::string> known{"lm_head.weight"};
    for (const auto& p : policy->named_parameters()) known.insert(names(p.key()));
    std::vector<std::string> unexpected;
    for (const auto& n : set.names())
      if (!known.count(n)) unexpected.push_back(n);
    if (!unexpected.empty()) {
      throw Error(ErrorCode::model, md.dir.string() + ": tensors the model does not have: " + unexpected.front() +
                                        (unexpected.size() > 1 ? " (and " + std::to_string(unexpected.size() - 1) + " more)" : ""));
    }
  } else {
    load_weights(*policy, set, names, true, md.dir.string());
  }
  policy->to(device);
  policy->eval();
  return policy;
}

void save_model_dir(const fs::path& dir, const Policy& policy, const nlohmann::json& config, const IqaContract& contract,
                    const fs::path& tokenizer_json, const std::map<std::string, std::string>& extra_files) {
  const fs::path tmp = temp_sibling(dir);
  fs::create_directories(tmp);
  try {
    write_file_atomic(tmp / "config.json", config.dump(2) + "\n");
    write_file_atomic(tmp / "hawkeye.json", contract.to_json().dump(2) + "\n");
    write_file_atomic(tmp / "tokenizer.json", read_file(tokenizer_json, 256u << 20));
    save_weights(policy, tmp / "model.safetensors", {{"format", "pt"}, {"producer", "hawkeye"}}, checkpoint_names(policy));
    if (const auto* qwen = dynamic_cast<const Qwen2_5_VL*>(&policy)) {
      // The image limits travel with the model (a fine-tuned copy must see images as its parent did).
      write_file_atomic(tmp / "preprocessor_config.json", qwen->image_config().to_json().dump(2) + "\n");
    }
    for (const auto& [name, content] : extra_files) write_file_atomic(tmp / name, content);
    publish_directory(tmp, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

nlohmann::ordered_json describe_model_dir(const fs::path& dir) {
  const ModelDir md = read_model_dir(dir);
  const auto set = SafetensorsSet::open(dir);
  std::int64_t params = 0, bytes = 0;
  for (const auto& n : set.names()) {
    const auto* e = set.find(n);
    const bool statistic = n.find("running_") != std::string::npos || n.find("num_batches_tracked") != std::string::npos;
    if (!statistic) params += static_cast<std::int64_t>(e->info->numel());
    bytes += static_cast<std::int64_t>(e->info->end - e->info->begin);
  }
  nlohmann::ordered_json j;
  j["path"] = dir.string();
  j["kind"] = "model";
  j["architecture"] = md.architecture;
  j["model_id"] = md.contract.model_id;
  j["parameters"] = params;
  j["weight_bytes"] = bytes;
  j["weight_tensors"] = set.size();
  j["memory_estimate_mb_fp32"] = static_cast<double>(params) * 4.0 / (1 << 20);
  if (md.architecture == "hawkeye-tiny") {
    SkipInitGuard no_random_init;  // only the configuration is read
    const auto policy = create_policy(md.config, (dir / "config.json").string());
    const auto& tiny = dynamic_cast<const TinyVlm&>(*policy);
    const auto& vc = tiny.config().vision;
    // Reference resolution: the largest 4:3 image within max_pixels.
    const int w = static_cast<int>(std::sqrt(vc.max_pixels * 4.0 / 3.0)) & ~1, h = (w * 3 / 4) & ~1;
    const double vision = policy->vision_macs(w, h);
    const auto& tc = tiny.config().text;
    const double per_token = static_cast<double>(tc.num_layers) *
                                 (2.0 * tc.hidden_size * tc.num_heads * tc.head_dim() +
                                  2.0 * tc.hidden_size * tc.num_kv_heads * tc.head_dim() + 3.0 * tc.hidden_size * tc.intermediate_size) +
                             static_cast<double>(tc.hidden_size) * tc.vocab_size;
    const auto tokens = vc.grid_h * vc.grid_w;
    j["visual_tokens_per_image"] = tokens;
    j["reference_resolution"] = std::to_string(w) + "x" + std::to_string(h);
    j["vision_gflops_per_image"] = 2.0 * vision / 1e9;
    j["lm_mflops_per_token"] = 2.0 * per_token / 1e6;
    j["gflops_per_image"] = (2.0 * vision + 2.0 * per_token * (tokens + md.contract.sampling.max_new_tokens)) / 1e9;
    j["gflops_per_image_note"] = "vision encoder + language model over the visual tokens and max_new_tokens generated tokens; the shared text prefix is computed once per run";
  } else if (md.architecture == Qwen2_5_VL::kArchitecture) {
    // From config.json and the weight headers only: building a 7B model would take ~30 GB.
    const auto cfg = Qwen2_5_VLConfig::from_json(md.config, (dir / "config.json").string());
    const auto described = qwen_describe(cfg, qwen_image_config(md), params, md.contract.sampling.max_new_tokens);
    for (const auto& [key, value] : described.items()) j[key] = value;
    j["contract"] = md.default_contract ? "default (no hawkeye.json)" : "hawkeye.json";
  }
  j["prompt"] = md.contract.prompt;
  j["score_range"] = {md.contract.score_min, md.contract.score_max};
  j["direction"] = md.contract.higher_is_better ? "higher_is_better" : "lower_is_better";
  j["sampling"] = md.contract.to_json()["sampling"];
  return j;
}

}  // namespace hawkeye::model
