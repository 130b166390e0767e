#include "hawkeye/rl/train_config.h"

#include "hawkeye/rl/rewards.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <tuple>

#include "hawkeye/core/error.h"
#include "hawkeye/core/text_util.h"

namespace hawkeye::rl {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A value as a message shows it: strings quoted, non-finite numbers by name (JSON would print null).
std::string shown(const nlohmann::json& v) {
  if (v.is_string()) return "'" + v.get<std::string>() + "'";
  if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    const double x = v.get<double>();
    return std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
  }
  return v.dump();
}

// The values a number may take.
struct Range {
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;

  bool holds(double v) const { return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi); }
  std::string text() const {
    if (lo == -kInf && hi == kInf) return "";
    if (hi == kInf) return (lo_open ? " > " : " >= ") + number_text(lo);
    if (lo == -kInf) return (hi_open ? " < " : " <= ") + number_text(hi);
    return std::string(" in ") + (lo_open ? "(" : "[") + number_text(lo) + ", " + number_text(hi) + (hi_open ? ")" : "]");
  }
};
Range any_number() { return {}; }
Range at_least(double lo) { return {lo, kInf, false, false}; }
Range above(double lo) { return {lo, kInf, true, false}; }
Range at_most(double hi) { return {-kInf, hi, false, false}; }
Range between(double lo, double hi, bool lo_open = false, bool hi_open = false) { return {lo, hi, lo_open, hi_open}; }

// The values a string may take: any, any but "", or one of a list.
struct Text {
  std::vector<std::string> choices;
  bool non_empty = false;
};
Text any_text() { return {}; }
Text non_empty() { return {{}, true}; }
Text one_of(std::vector<std::string> choices) { return {std::move(choices), true}; }

struct Flag {};      // true or false
struct Prefixes {};  // an array of strings
struct CropSize {};  // [] or [width, height], both >= 1

// ---- the keys of each section, with their ranges (docs/training.md has the meanings) ----

template <typename S, typename F>
void run_fields(S& s, F& f) {
  f("dir", s.dir, non_empty());
  f("seed", s.seed, at_least(0));
  f("threads", s.threads, at_least(0));
  f("log_every", s.log_every, at_least(1));
  f("device", s.device, non_empty());
  f("dtype", s.dtype, one_of({"float32", "fp32", "bfloat16", "bf16"}));
  f("dist_timeout_s", s.dist_timeout_s, above(0));
  f("dist_bucket_mb", s.dist_bucket_mb, at_least(0));
  f("dist_backend", s.dist_backend, one_of({"auto", "gloo", "nccl"}));
}

template <typename S, typename F>
void model_fields(S& s, F& f) {
  f("init", s.init, non_empty());
  f("architecture", s.architecture, any_text());
  f("hawkeye_json", s.hawkeye_json, any_text());
  f("tokenizer", s.tokenizer, any_text());
  f("vision_init", s.vision_init, any_text());
}

template <typename S, typename F>
void data_fields(S& s, F& f) {
  f("train", s.train, any_text());  // required: checked with the whole config
  f("val", s.val, any_text());
  f("val_max", s.val_max, at_least(0));
  f("val_batch", s.val_batch, at_least(1));
}

template <typename S, typename F>
void train_fields(S& s, F& f) {
  f("epochs", s.epochs, at_least(0));
  f("steps", s.steps, at_least(0));
  f("batch_size", s.batch_size, at_least(1));
  f("grad_accum", s.grad_accum, at_least(1));
  f("lr", s.lr, above(0));
  f("warmup_steps", s.warmup_steps, at_least(0));
  f("weight_decay", s.weight_decay, at_least(0));
  f("adam_beta1", s.adam_beta1, between(0, 1, false, true));
  f("adam_beta2", s.adam_beta2, between(0, 1, false, true));
  f("adam_eps", s.adam_eps, above(0));
  f("max_grad_norm", s.max_grad_norm, at_least(0));
  f("checkpoint_every", s.checkpoint_every, at_least(0));
  f("keep_last", s.keep_last, at_least(0));
  f("val_every", s.val_every, at_least(0));
  f("max_nonfinite", s.max_nonfinite, at_least(0));
  f("cache_visual", s.cache_visual, Flag{});
  f("cache_visual_mb", s.cache_visual_mb, at_least(0));
  f("freeze", s.freeze, Prefixes{});
}

template <typename S, typename F>
void augment_fields(S& s, F& f) {
  f("crop", s.crop, CropSize{});
  f("hflip", s.hflip, Flag{});
  f("vflip", s.vflip, Flag{});
  f("rot90", s.rot90, Flag{});
}

template <typename S, typename F>
void sft_fields(S& s, F& f) {
  f("score_decimals", s.score_decimals, between(0, 4));
  f("aux_weight", s.aux_weight, at_least(0));
  f("text_weight", s.text_weight, at_least(0));
  f("think_noise", s.think_noise, between(0, 1));
  f("twin_rank_weight", s.twin_rank_weight, at_least(0));
  f("twin_rank_margin", s.twin_rank_margin, at_least(0));
  f("answer_target", s.answer_target, one_of({"label", "auxiliary_head"}));
}

template <typename S, typename F>
void rollout_fields(S& s, F& f) {
  f("k", s.k, at_least(2));
  f("temperature", s.temperature, above(0));  // 0 is not greedy: the sampler would read it as 1
  f("top_k", s.top_k, at_least(0));
  f("top_p", s.top_p, between(0, 1, true, false));
  f("max_new_tokens", s.max_new_tokens, at_least(1));
}

template <typename S, typename F>
void loss_fields(S& s, F& f) {
  f("beta", s.beta, at_least(0));
  f("ref_kl", s.ref_kl, Flag{});
  f("uado", s.uado, Flag{});
  f("alpha", s.alpha, at_least(0));
  f("perception", s.perception, Flag{});
  f("gamma0", s.gamma0, at_least(0));
  f("gamma_epochs", s.gamma_epochs, at_least(0));
  f("mu", s.mu, at_least(1));
  f("clip_low", s.clip_low, between(0, 1));
  f("clip_high", s.clip_high, at_least(0));
  f("entropy_eta", s.entropy_eta, any_number());
  f("repetition", s.repetition, Flag{});
  f("freeze_norm", s.freeze_norm, Flag{});
}

// A reward's weight to read into: its entry of the map, made with the registry's default when a program removed it
// (writing uses rl::reward_weight, rewards.h).
double& reward_weight(RewardsSection& s, const RewardEntry& e) { return s.weights.try_emplace(e.name, e.default_weight).first->second; }

template <typename S, typename F>
void rewards_fields(S& s, F& f) {
  for (const auto& e : reward_registry()) f(e.name, reward_weight(s, e), any_number());  // rewards.<name>: its weight
  f("tau", s.tau, above(0));
  f("format_value", s.format_value, any_number());
  f("repetition_threshold", s.repetition_threshold, at_least(0));
  f("repetition_scale", s.repetition_scale, at_least(0));
  f("repetition_floor", s.repetition_floor, at_most(0));
}

template <typename S, typename F>
void reward_fields(S& s, F& f) {
  f("rule", s.rule, one_of({"reference", "strict"}));
}

template <typename S, typename F>
void pairs_fields(S& s, F& f) {
  f("on_the_fly", s.on_the_fly, Flag{});
  f("threshold", s.threshold, between(0, 1));
}

// The sections of each command, in the order of docs/training.md.
template <typename C, typename V>
void visit_common(C& c, V& v) {
  v.section("run", [&](auto& f) { run_fields(c.run, f); });
  v.section("model", [&](auto& f) { model_fields(c.model, f); });
  v.section("data", [&](auto& f) { data_fields(c.data, f); });
  v.section("train", [&](auto& f) { train_fields(c.train, f); });
  v.section("augment", [&](auto& f) { augment_fields(c.augment, f); });
}

template <typename C, typename V>
void visit_sft(C& c, V& v) {
  visit_common(c, v);
  v.section("sft", [&](auto& f) { sft_fields(c.sft, f); });
}

template <typename C, typename V>
void visit_grpo(C& c, V& v) {
  visit_common(c, v);
  v.section("rollout", [&](auto& f) { rollout_fields(c.rollout, f); });
  v.section("loss", [&](auto& f) { loss_fields(c.loss, f); });
  v.section("rewards", [&](auto& f) { rewards_fields(c.rewards, f); });
  v.section("reward", [&](auto& f) { reward_fields(c.reward, f); });
  v.section("pairs", [&](auto& f) { pairs_fields(c.pairs, f); });
}

// Writes every key with its value.
class Writer {
 public:
  nlohmann::json out = nlohmann::json::object();

  template <typename Fields>
  void section(const char* name, Fields&& fields) {
    current_ = &(out[name] = nlohmann::json::object());
    fields(*this);
  }
  template <typename T, typename Rule>
  void operator()(const char* key, const T& value, const Rule&) {
    (*current_)[key] = value;
  }

 private:
  nlohmann::json* current_ = nullptr;
};

// Reads the keys a config sets, keeping a value only when it is valid; every problem is collected.
class Reader {
 public:
  explicit Reader(const nlohmann::json& root) : root_(root) {}

  std::vector<std::string> problems;

  template <typename Fields>
  void section(const char* name, Fields&& fields) {
    section_ = name;
    here_ = nullptr;
    const auto it = root_.find(name);
    if (it != root_.end() && !it->is_null()) {
      if (it->is_object()) here_ = &*it;
      else problem(name, std::string(name) + " = " + shown(*it) + ": expected a table of keys");
    }
    fields(*this);
  }

  void operator()(const char* key, double& v, const Range& r) {
    const auto* j = find(key);
    if (!j) return;
    if (!j->is_number()) return wrong(key, *j, "a number" + r.text());
    const double x = j->get<double>();
    if (!std::isfinite(x)) return wrong(key, *j, "a finite number" + r.text());
    if (!r.holds(x)) return wrong(key, *j, "a number" + r.text());
    v = x;
  }
  void operator()(const char* key, std::int64_t& v, const Range& r) {
    if (const auto x = integer(key, r, LLONG_MIN, LLONG_MAX)) v = *x;
  }
  void operator()(const char* key, int& v, const Range& r) {
    if (const auto x = integer(key, r, INT_MIN, INT_MAX)) v = static_cast<int>(*x);
  }
  void operator()(const char* key, std::uint64_t& v, const Range& r) {
    const auto* j = find(key);
    if (!j) return;
    if (j->is_number_unsigned()) {
      v = j->get<std::uint64_t>();
      return;
    }
    if (const auto x = integer(key, r, 0, LLONG_MAX)) v = static_cast<std::uint64_t>(*x);
  }
  void operator()(const char* key, bool& v, Flag) {
    const auto* j = find(key);
    if (!j) return;
    if (!j->is_boolean()) return wrong(key, *j, "a boolean (true or false)");
    v = j->get<bool>();
  }
  void operator()(const char* key, std::string& v, const Text& t) {
    const auto* j = find(key);
    if (!j) return;
    if (!j->is_string()) return wrong(key, *j, "a string");
    const auto s = j->get<std::string>();
    if (!t.choices.empty() && std::find(t.choices.begin(), t.choices.end(), s) == t.choices.end()) {
      std::string list;
      for (const auto& c : t.choices) list += (list.empty() ? "" : ", ") + c;
      return wrong(key, *j, "one of " + list);
    }
    if (t.non_empty && s.empty()) return wrong(key, *j, "a non-empty string");
    v = s;
  }
  void operator()(const char* key, std::vector<std::string>& v, Prefixes) {
    const auto* j = find(key);
    if (!j) return;
    const bool ok = j->is_array() && std::all_of(j->begin(), j->end(), [](const nlohmann::json& e) { return e.is_string(); });
    if (!ok) return wrong(key, *j, "an array of strings");
    v = j->get<std::vector<std::string>>();
  }
  void operator()(const char* key, std::vector<int>& v, CropSize) {
    const auto* j = find(key);
    if (!j) return;
    const auto side = [](const nlohmann::json& e) { return e.is_number_integer() && e.get<std::int64_t>() >= 1 && e.get<std::int64_t>() <= INT_MAX; };
    const bool ok = j->is_array() && (j->empty() || (j->size() == 2 && side((*j)[0]) && side((*j)[1])));
    if (!ok) return wrong(key, *j, "[] (whole images) or [width, height] with both >= 1");
    v = j->get<std::vector<int>>();
  }

  void problem(const std::string& dotted, std::string message) {
    failed_.push_back(dotted);
    problems.push_back(std::move(message));
  }
  // None of these keys was refused (checks across keys use only values that were read).
  bool read_well(std::initializer_list<const char*> keys) const {
    return std::none_of(keys.begin(), keys.end(),
                        [&](const char* k) { return std::find(failed_.begin(), failed_.end(), k) != failed_.end(); });
  }

 private:
  const nlohmann::json* find(const char* key) const {
    if (!here_) return nullptr;
    const auto it = here_->find(key);
    return it == here_->end() || it->is_null() ? nullptr : &*it;
  }
  void wrong(const char* key, const nlohmann::json& value, const std::string& expected) {
    const auto dotted = section_ + "." + key;
    problem(dotted, dotted + " = " + shown(value) + ": expected " + expected);
  }
  std::optional<std::int64_t> integer(const char* key, const Range& r, std::int64_t lo, std::int64_t hi) {
    const auto* j = find(key);
    if (!j) return std::nullopt;
    std::optional<std::int64_t> x;
    if (j->is_number_integer() && !(j->is_number_unsigned() && j->get<std::uint64_t>() > static_cast<std::uint64_t>(LLONG_MAX))) {
      x = j->get<std::int64_t>();
    } else if (j->is_number_float()) {
      const double d = j->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) x = static_cast<std::int64_t>(d);
    }
    if (!x) {
      wrong(key, *j, "an integer" + r.text());
      return std::nullopt;
    }
    if (!r.holds(static_cast<double>(*x))) {
      wrong(key, *j, "an integer" + r.text());
      return std::nullopt;
    }
    if (*x < lo || *x > hi) {
      wrong(key, *j, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return std::nullopt;
    }
    return x;
  }

  const nlohmann::json& root_;
  const nlohmann::json* here_ = nullptr;
  std::string section_;
  std::vector<std::string> failed_;
};

// "section.key" of every key of a command.
std::vector<std::string> dotted_keys(const nlohmann::json& all) {
  std::vector<std::string> keys;
  for (auto s = all.begin(); s != all.end(); ++s)
    for (auto k = s->begin(); k != s->end(); ++k) keys.push_back(s.key() + "." + k.key());
  return keys;
}

// Edit distance with adjacent transpositions (optimal string alignment): "trian" is 1 from "train".
std::string leaf(const std::string& dotted) {
  const auto dot = dotted.rfind('.');
  return dot == std::string::npos ? dotted : dotted.substr(dot + 1);
}

// The valid key nearest to `key`: by the whole dotted name, or by the last part in another section ("lr" or
// "run.lr" -> train.lr).
std::string closest_key(const std::string& key, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  for (const auto& v : valid) {
    const auto d = std::min(edit_distance(key, v), edit_distance(leaf(key), leaf(v)) + 1);
    if (d < best_d) {
      best_d = d;
      best = v;
    }
  }
  return best;
}

const char* command_name(TrainKind kind) { return kind == TrainKind::grpo ? "hawkeye train" : "hawkeye sft"; }

// Keys the config sets that the command does not have; then every problem as one error.
void finish(const Config& config, TrainKind kind, const nlohmann::json& all, Reader& in) {
  const auto valid = dotted_keys(all);
  const auto other_kind = kind == TrainKind::grpo ? TrainKind::sft : TrainKind::grpo;
  const auto other = dotted_keys(other_kind == TrainKind::grpo ? GrpoConfig().to_json() : SftConfig().to_json());
  std::vector<std::string> unknown;
  for (auto s = config.root().begin(); s != config.root().end(); ++s) {
    if (!s->is_object()) {
      if (!all.contains(s.key())) unknown.push_back(s.key());
      continue;
    }
    for (auto k = s->begin(); k != s->end(); ++k) unknown.push_back(s.key() + "." + k.key());
  }
  std::vector<std::string> problems;
  for (const auto& key : unknown) {
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    if (std::find(other.begin(), other.end(), key) != other.end()) {
      problems.push_back(key + ": a key of `" + command_name(other_kind) + "`, not of `" + command_name(kind) + "`");
    } else {
      problems.push_back(key + ": unknown key; did you mean " + closest_key(key, valid) + "?");
    }
  }
  problems.insert(problems.end(), in.problems.begin(), in.problems.end());
  if (problems.empty()) return;
  std::string message = config.source() + ": ";
  if (problems.size() == 1) {
    message += problems[0];
  } else {
    message += std::to_string(problems.size()) + " problems:";
    for (const auto& p : problems) message += "\n  " + p;
  }
  throw Error(ErrorCode::invalid_argument, message);
}

// Checks across keys of both commands.
void check_common(const CommonConfig& c, Reader& in) {
  if (c.data.train.empty()) in.problem("data.train", "data.train: required (the training manifest, .jsonl or .csv)");
  if (c.model.init == "scratch") {
    for (const auto& [key, value, what] : {std::tuple{"model.architecture", &c.model.architecture, "config.json"},
                                           std::tuple{"model.hawkeye_json", &c.model.hawkeye_json, "hawkeye.json"},
                                           std::tuple{"model.tokenizer", &c.model.tokenizer, "tokenizer.json"}}) {
      if (value->empty()) {
        in.problem(key, std::string(key) + ": required with model.init = 'scratch' (the " + what +
                            " of the new model), or set model.init to a model directory");
      }
    }
  }
  if (in.read_well({"train.batch_size", "train.grad_accum"}) && c.train.batch_size % c.train.grad_accum != 0) {
    in.problem("train.batch_size", "train.batch_size = " + std::to_string(c.train.batch_size) + ": expected a multiple of train.grad_accum (" +
                                       std::to_string(c.train.grad_accum) + ")");
  }
  if (in.read_well({"train.steps", "train.epochs"}) && c.train.steps == 0 && c.train.epochs == 0) {
    in.problem("train.epochs", "train.epochs = 0: expected > 0 when train.steps = 0 (no training steps)");
  }
}

}  // namespace

nlohmann::json SftConfig::to_json() const {
  Writer w;
  visit_sft(*this, w);
  return w.out;
}

nlohmann::json GrpoConfig::to_json() const {
  Writer w;
  visit_grpo(*this, w);
  return w.out;
}

SftConfig SftConfig::from_config(const Config& config) {
  SftConfig c;
  c.source = config.source();
  Reader in(config.root());
  visit_sft(c, in);
  check_common(c, in);
  if (in.read_well({"sft.text_weight", "sft.aux_weight", "sft.twin_rank_weight"}) && c.sft.text_weight == 0 && c.sft.aux_weight == 0 &&
      c.sft.twin_rank_weight == 0) {
    in.problem("sft.text_weight", "sft.text_weight, sft.aux_weight and sft.twin_rank_weight are all 0: nothing to train");
  }
  finish(config, c.kind, c.to_json(), in);
  return c;
}

GrpoConfig GrpoConfig::from_config(const Config& config) {
  GrpoConfig c;
  c.source = config.source();
  Reader in(config.root());
  visit_grpo(c, in);
  check_common(c, in);
  finish(config, c.kind, c.to_json(), in);
  return c;
}

TrainKind train_kind_from_name(const std::string& kind) {
  if (kind == "sft") return TrainKind::sft;
  if (kind == "grpo") return TrainKind::grpo;
  throw Error(ErrorCode::invalid_argument, "unknown training kind '" + kind + "' (sft or grpo)");
}

const char* train_kind_name(TrainKind kind) { return kind == TrainKind::grpo ? "grpo" : "sft"; }

TrainConfig read_train_config(const Config& config, const std::string& kind) {
  if (train_kind_from_name(kind) == TrainKind::grpo) return GrpoConfig::from_config(config);
  return SftConfig::from_config(config);
}

const CommonConfig& common_config(const TrainConfig& config) {
  return std::visit([](const auto& c) -> const CommonConfig& { return c; }, config);
}

Config to_config(const TrainConfig& config) {
  return std::visit([](const auto& c) { return Config(c.to_json(), c.source); }, config);
}

}  // namespace hawkeye::rl
