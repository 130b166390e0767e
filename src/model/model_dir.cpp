#include "hawkeye/model/model_dir.h"

#include <cstdio>
#include <cstring>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/architecture.h"
#include "hawkeye/model/init.h"
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

}  // namespace

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
  md.architecture = architecture_name(md.config);
  if (md.architecture.empty()) throw Error(ErrorCode::model, (dir / "config.json").string() + ": names no architecture");
  const Architecture* arch = find_architecture(md.architecture);  // an unknown one is refused when loaded
  if (fs::exists(dir / "hawkeye.json", ec)) {
    md.contract = IqaContract::from_json(read_json(dir / "hawkeye.json"), (dir / "hawkeye.json").string());
  } else if (arch && arch->default_contract) {
    md.contract = arch->default_contract(dir_name(dir));
    md.default_contract = true;
  } else {
    throw Error(ErrorCode::not_found, (dir / "hawkeye.json").string() + ": missing (a model directory needs it)");
  }
  if (fs::exists(dir / "preprocessor_config.json", ec)) md.preprocessor = read_json(dir / "preprocessor_config.json");
  md.tokenizer_json = dir / "tokenizer.json";
  return md;
}

std::shared_ptr<Policy> create_policy(const nlohmann::json& config, const std::string& source) {
  return architecture(architecture_name(config), source).create(config, source);
}

NameMap checkpoint_names(const Policy& policy, const SafetensorsSet* checkpoint) {
  const Architecture* arch = find_architecture(policy.architecture());
  if (!arch || !arch->checkpoint_names) return nullptr;
  return arch->checkpoint_names(checkpoint ? checkpoint->names() : std::vector<std::string>{});
}

std::shared_ptr<Policy> load_policy(const ModelDir& md, const torch::Device& device, c10::optional<torch::ScalarType> dtype) {
  const std::string source = (md.dir / "config.json").string();
  const Architecture& arch = architecture(md.architecture, source);
  std::shared_ptr<Policy> policy;
  {
    SkipInitGuard no_random_init;  // every parameter is loaded below (a missing one is an error)
    policy = arch.create(md.config, source);
  }
  if (arch.configure) arch.configure(*policy, md);
  const torch::ScalarType dt = dtype ? *dtype : (device.is_cuda() ? arch.cuda_dtype : torch::kFloat32);
  if (dt != torch::kFloat32) policy->to(dt);  // before loading: bf16 weights are then copied as they are
  const auto set = SafetensorsSet::open(md.dir);
  auto names = checkpoint_names(*policy, &set);
  if (arch.optional_tensors) {
    std::set<std::string> absent;
    for (const auto& n : arch.optional_tensors(*policy))
      if (!set.find(n)) absent.insert(n);
    if (!absent.empty()) {
      names = [inner = names, absent](const std::string& key) {
        const auto n = inner ? inner(key) : key;
        return absent.count(n) ? std::string() : n;
      };
    }
  }
  std::set<std::string> ignored;
  if (arch.ignored_tensors) {
    for (const auto& n : arch.ignored_tensors(*policy))
      if (set.find(n)) ignored.insert(n);
  }
  if (ignored.empty()) {
    load_weights(*policy, set, names, true, md.dir.string());
  } else {
    load_weights(*policy, set, names, false, md.dir.string());
    std::set<std::string> known = ignored;
    for (const auto& p : policy->named_parameters()) known.insert(names ? names(p.key()) : p.key());
    std::vector<std::string> unexpected;
    for (const auto& n : set.names())
      if (!known.count(n)) unexpected.push_back(n);
    if (!unexpected.empty()) {
      throw Error(ErrorCode::model, md.dir.string() + ": tensors the model does not have: " + unexpected.front() +
                                        (unexpected.size() > 1 ? " (and " + std::to_string(unexpected.size() - 1) + " more)" : ""));
    }
  }
  policy->to(device);
  policy->eval();
  return policy;
}

namespace {

// FNV-1a over 8-byte words (eight times fewer multiplications than per byte), then a final avalanche.
class ContentHash {
 public:
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    mix(n);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    mix(tail);
  }
  void add(std::string_view s) { add(s.data(), s.size()); }
  std::string hex() const {
    std::uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(z));
    return std::string("fnv64-") + buf;
  }

 private:
  void mix(std::uint64_t w) { h_ = (h_ ^ w) * 0x100000001b3ULL; }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

std::string model_fingerprint(const ModelDir& md) {
  ContentHash h;
  h.add(md.config.dump());
  h.add(md.contract.to_json().dump());
  h.add(read_file(md.tokenizer_json, 256u << 20));
  const auto set = SafetensorsSet::open(md.dir);
  for (const auto& name : set.names()) {  // sorted
    const auto& info = *set.find(name)->info;
    h.add(name);
    h.add(st_dtype_name(info.dtype));
    h.add(info.shape.data(), info.shape.size() * sizeof(info.shape[0]));
    h.add(set.find(name)->data(), info.end - info.begin);
  }
  return h.hex();
}

void save_model_dir(const fs::path& dir, const Policy& policy, const nlohmann::json& config, const IqaContract& contract,
                    const fs::path& tokenizer_json, const std::map<std::string, std::string>& extra_files) {
  require_finite_weights(policy, dir.string() + " not written");
  const Architecture* arch = find_architecture(policy.architecture());
  const fs::path tmp = temp_sibling(dir);
  fs::create_directories(tmp);
  try {
    write_file_atomic(tmp / "config.json", config.dump(2) + "\n");
    write_file_atomic(tmp / "hawkeye.json", contract.to_json().dump(2) + "\n");
    write_file_atomic(tmp / "tokenizer.json", read_file(tokenizer_json, 256u << 20));
    save_weights(policy, tmp / "model.safetensors", {{"format", "pt"}, {"producer", "hawkeye"}}, checkpoint_names(policy));
    if (arch && arch->extra_files) {
      for (const auto& [name, content] : arch->extra_files(policy)) write_file_atomic(tmp / name, content);
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
  // An architecture this build does not know is still described from its files.
  if (const Architecture* arch = find_architecture(md.architecture); arch && arch->describe) {
    const auto described = arch->describe(md, params);
    for (const auto& [key, value] : described.items()) j[key] = value;
  }
  j["prompt"] = md.contract.prompt;
  j["score_range"] = {md.contract.score_min, md.contract.score_max};
  j["direction"] = md.contract.higher_is_better ? "higher_is_better" : "lower_is_better";
  j["sampling"] = md.contract.to_json()["sampling"];
  return j;
}

}  // namespace hawkeye::model
