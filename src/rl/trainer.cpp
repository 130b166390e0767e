#include "hawkeye/rl/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/data/pairs.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/model/architecture.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/advantages.h"
#include "hawkeye/rl/checkpoint.h"
#include "hawkeye/rl/dataset.h"
#include "hawkeye/rl/losses.h"
#include "hawkeye/rl/rewards.h"

namespace hawkeye::rl {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

torch::ScalarType parse_train_dtype(const std::string& name, const std::string& source) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  throw Error(ErrorCode::invalid_argument, source + ": run.dtype '" + name + "': expected float32 or bfloat16");
}

std::string format_score(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

// sft.think_noise: with probability p (seeded per step and row), the description of a confusable KADID (type,
// level) instead of the row's own: half the time the same type at a neighbouring level, else another labelled
// type at any level. "" = keep the row's own (also for rows without a KADID type and level).
std::string noisy_think_text(const TrainSample& row, const KadidLabelTable& labels, double p, std::uint64_t seed) {
  if (!(p > 0) || row.type_id < 1 || row.type_id > 25 || row.level < 1 || row.level > 5) return {};
  Rng rng(seed);
  if (!(rng.uniform() < p)) return {};
  // A text that one of the row's own phrasings also reads (neighbouring levels in one severity band can share
  // them) is no wrong reasoning: draw again, a bounded number of times.
  const auto own = kadid_description_variants(row.type_id, row.level, row.label);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int type = row.type_id, level = row.level;
    if (rng.uniform() < 0.5) {
      level = row.level == 1 ? 2 : row.level == 5 ? 4 : row.level + (rng.below(2) == 0 ? -1 : 1);
    } else {
      // another type of the 24 labelled ones (15, denoise, is a substitute)
      do type = 1 + static_cast<int>(rng.below(25));
      while (type == row.type_id || type == 15);
      level = 1 + static_cast<int>(rng.below(5));
    }
    auto text = describe_kadid(type, level, labels.mean(type, level), rng());
    if (std::find(own.begin(), own.end(), text) == own.end()) return text;
  }
  return {};
}

namespace {

struct StepTimes {
  double load = 0, rollout = 0, logprob = 0, backward = 0, optimizer = 0;
};

// Everything one run needs, set up once.
struct Run {
  const CommonConfig* cfg = nullptr;  // the sections of both commands
  const SftConfig* sft = nullptr;     // set for sft
  const GrpoConfig* grpo = nullptr;   // set for grpo
  std::string kind;
  TrainOptions opts;
  std::filesystem::path dir;
  std::uint64_t seed = 0;
  int threads = 0;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  std::unique_ptr<model::IqaModel> model;
  std::unique_ptr<model::IqaModel> reference;
  std::vector<TrainSample> train, val;
  std::unique_ptr<AdamW> optimizer;
  std::int64_t batch = 0, accum = 1, total_steps = 0;
  std::ofstream metrics;
  RewardSet rewards;
  ImageLimits limits;
};

std::filesystem::path init_model_dir(Run& r) {
  const auto& mc = r.cfg->model;
  if (mc.init != "scratch") return model::resolve_model(mc.init);
  // A new model: written once into <run>/init so that the reference policy and resumes find it.
  const auto dir = r.dir / "init";
  std::error_code ec;
  if (fs::exists(dir / "model.safetensors", ec)) return dir;
  if (!r.opts.dist.is_main()) {
    throw Error(ErrorCode::internal, "the initial model must be written by rank 0 before other ranks start");
  }
  const auto& arch = mc.architecture;
  const auto& hj = mc.hawkeye_json;
  const auto& tok = mc.tokenizer;
  nlohmann::json config, contract_json;
  try {
    config = nlohmann::json::parse(read_file(arch, 1u << 20));
    contract_json = nlohmann::json::parse(read_file(hj, 1u << 20));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::parse, "model.architecture / model.hawkeye_json: invalid JSON: " + std::string(e.what()));
  }
  torch::manual_seed(r.seed);
  auto policy = model::create_policy(config, arch);
  // model.vision_init: pretrained weights of the vision backbone (a .tflite file or an imported
  // model.safetensors), loaded into the new model before it is first written.
  if (const auto& vision_init = mc.vision_init; !vision_init.empty()) {
    const auto source = r.cfg->source + ": model.vision_init";
    const auto& entry = model::architecture(policy->architecture(), arch);
    if (!entry.load_vision_init) {
      throw Error(ErrorCode::invalid_argument, source + " needs an architecture with a pretrained backbone (" + entry.name + " has none)");
    }
    entry.load_vision_init(*policy, vision_init, source);
  }
  const auto contract = model::IqaContract::from_json(contract_json, hj);
  fs::create_directories(r.dir);
  model::save_model_dir(dir, *policy, config, contract, tok);
  return dir;
}

void log_json(Run& r, const ordered_json& j) {
  if (!r.opts.dist.is_main()) return;
  JsonlWriter(r.metrics).write(j);
}

// Keeps metrics.jsonl lines up to `step` (a resumed run continues exactly where its checkpoint was).
void truncate_metrics(const std::filesystem::path& path, std::int64_t step) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.value("step", std::int64_t{0}) <= step) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // a torn last line from a crash: dropped
    }
  }
  write_file_atomic(path, kept);
}

// dist: a step's record becomes the mean over ranks (token counts: the sum; step, epoch, lr and timings stay
// this rank's), and loss_sum the mean loss, so the log and the finite check do not depend on the world size.
void reduce_step_record(ordered_json& rec, double& loss_sum, const DistHooks& dist) {
  std::vector<std::string> keys;
  std::vector<double> values{loss_sum};
  for (auto it = rec.begin(); it != rec.end(); ++it) {
    const auto& k = it.key();
    if (!it->is_number() || k == "step" || k == "epoch" || k == "lr" || k.rfind("time_", 0) == 0) continue;
    keys.push_back(k);
    values.push_back(it->get<double>());
  }
  dist.sum(values);
  loss_sum = values[0] / dist.world;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == "tokens") rec[keys[i]] = static_cast<std::int64_t>(std::llround(values[i + 1]));
    else rec[keys[i]] = values[i + 1] / dist.world;
  }
}

// Validation: greedy answers of the model, or (aux_only: a vision-only warm-start stage) the auxiliary
// head's score.
ordered_json validate(Run& r, std::int64_t step, bool aux_only) {
  auto& m = *r.model;
  m.policy().eval();
  const auto opts = model::default_score_options(m, 0, r.seed);
  const auto vb = static_cast<std::size_t>(r.cfg->data.val_batch);
  std::vector<double> pred, gt;
  std::int64_t failures = 0;
  // Each rank scores its share of the validation rows; the results are summed across ranks.
  std::vector<double> local_pred(r.val.size(), 0.0), local_ok(r.val.size(), 0.0);
  for (std::size_t i = r.opts.dist.rank * vb; i < r.val.size(); i += vb * r.opts.dist.world) {
    std::vector<std::filesystem::path> paths;
    const std::size_t end = std::min(r.val.size(), i + vb);
    for (std::size_t j = i; j < end; ++j) paths.push_back(r.val[j].image);
    const auto images = load_batch(paths, r.limits, r.threads);
    std::vector<const Image*> ptrs;
    for (const auto& im : images) ptrs.push_back(&im);
    std::vector<double> batch_scores;
    if (aux_only) {
      torch::NoGradGuard ng;
      auto& p = m.policy();
      batch_scores = p.auxiliary_scores(p.encode_images(p.preprocess(ptrs)));
      if (batch_scores.size() != ptrs.size()) {
        throw Error(ErrorCode::invalid_argument, r.cfg->source + ": validation without text (sft.text_weight = 0) needs a model with an auxiliary head");
      }
    } else {
      for (const auto& s : model::score_images(m, ptrs, opts)) batch_scores.push_back(s.score);
    }
    for (std::size_t j = i; j < end; ++j) {
      const double v = batch_scores[j - i];
      local_ok[j] = std::isfinite(v) ? 1.0 : 0.0;
      local_pred[j] = std::isfinite(v) ? v : 0.0;
    }
  }
  if (r.opts.dist.world > 1 && r.opts.dist.sum) {
    r.opts.dist.sum(local_pred);
    r.opts.dist.sum(local_ok);
  }
  for (std::size_t j = 0; j < r.val.size(); ++j) {
    if (local_ok[j] > 0) {
      pred.push_back(local_pred[j]);
      gt.push_back(r.val[j].label);
    } else {
      ++failures;
    }
  }
  const auto rep = correlate(pred, gt);
  ordered_json j;
  j["kind"] = "validation";
  j["source"] = aux_only ? "auxiliary_head" : "greedy_answers";
  j["step"] = step;
  j["n"] = r.val.size();
  j["parse_failures"] = failures;
  j["srcc"] = rep.srcc.value;
  j["plcc"] = rep.plcc.value;
  j["plcc_fitted"] = rep.plcc_fitted.value;
  j["krcc"] = rep.krcc.value;
  j["rmse"] = rep.rmse.value;
  return sanitize_json(j);
}

}  // namespace

Config resolve_train_config(const Config& config, const std::string& kind) { return to_config(read_train_config(config, kind)); }

TrainResult train(const Config& config, const std::string& kind, const TrainOptions& options) {
  return train(read_train_config(config, kind), options);
}

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  const auto t_start = Clock::now();
  Run r;
  r.cfg = &common_config(config);
  r.sft = std::get_if<SftConfig>(&config);
  r.grpo = std::get_if<GrpoConfig>(&config);
  r.kind = train_kind_name(r.cfg->kind);
  r.opts = options;
  const bool grpo = r.grpo != nullptr;
  const auto& kind = r.kind;
  const auto& cfg = *r.cfg;
  r.dir = cfg.run.dir;
  r.seed = cfg.run.seed;
  r.threads = cfg.run.threads;
  const bool main = options.dist.is_main();
  // run.device: where the policy, the reference, the optimiser state and every loss tensor live; images are
  // decoded and preprocessed on the CPU and their pixels cross once per forward. Checkpoints are written from
  // CPU copies, so a run resumes on another device.
  r.device = model::parse_device(cfg.run.device);
  r.dtype = parse_train_dtype(cfg.run.dtype, cfg.source);

  std::error_code ec;
  if (options.resume.empty() && latest_checkpoint(r.dir)) {
    throw Error(ErrorCode::invalid_argument, r.dir.string() + ": already holds checkpoints; resume with --resume " +
                                                 r.dir.string() + " or choose another run.dir");
  }
  r.batch = cfg.train.batch_size;
  r.accum = cfg.train.grad_accum;
  if (r.batch % (r.accum * options.dist.world) != 0) {
    throw Error(ErrorCode::invalid_argument, cfg.source + ": train.batch_size must be a positive multiple of train.grad_accum x world size (" +
                                                 std::to_string(r.accum) + " x " + std::to_string(options.dist.world) + ")");
  }

  // ---- data, model, reference, optimiser (the run folder is made once they are all there) ----
  const bool perception = grpo && r.grpo->loss.perception;
  const bool on_the_fly = grpo && r.grpo->pairs.on_the_fly;
  DatasetOptions dopt;
  dopt.require_twin = perception && !on_the_fly;
  dopt.require_description = !grpo;
  r.train = load_samples(cfg.data.train, dopt);
  if (!cfg.data.val.empty()) {
    DatasetOptions vopt;
    vopt.max_rows = static_cast<std::size_t>(cfg.data.val_max);
    r.val = load_samples(cfg.data.val, vopt);
  }
  r.total_steps = cfg.train.steps > 0 ? cfg.train.steps : static_cast<std::int64_t>(std::ceil(cfg.train.epochs * r.train.size() / r.batch));
  if (r.total_steps <= 0) throw Error(ErrorCode::invalid_argument, cfg.source + ": no training steps (train.steps / train.epochs)");
  std::optional<PathLock> run_lock;  // rank 0 holds the run directory for the whole run
  if (main) run_lock.emplace(claim_run_directory(r.dir));

  std::filesystem::path start_dir = main ? init_model_dir(r) : std::filesystem::path();
  if (options.dist.barrier) options.dist.barrier();
  if (!main) start_dir = init_model_dir(r);  // dist: after rank 0 has written a new model
  r.model = std::make_unique<model::IqaModel>(model::IqaModel::load(start_dir.string(), r.device, r.dtype));
  auto& policy = r.model->policy();
  r.limits.max_aspect_ratio = policy.max_aspect_ratio();
  const double beta = grpo ? r.grpo->loss.beta : 0.0;
  const bool ref_kl = grpo && r.grpo->loss.ref_kl && beta != 0.0;
  if (ref_kl) {
    r.reference = std::make_unique<model::IqaModel>(model::IqaModel::load(start_dir.string(), r.device, r.dtype));
    for (auto& p : r.reference->policy().parameters()) p.set_requires_grad(false);
    r.reference->policy().eval();
  }

  // train.freeze: parameter-name prefixes kept fixed (e.g. ["visual."] trains the language model on a
  // grounded, frozen vision encoder, whose normalisation statistics are then frozen too).
  const auto& freeze = cfg.train.freeze;
  bool froze_any = false;
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& item : policy.named_parameters(true)) {
    const bool frozen = std::any_of(freeze.begin(), freeze.end(), [&](const std::string& prefix) {
      return item.key().rfind(prefix, 0) == 0;
    });
    if (frozen) {
      item.value().set_requires_grad(false);
      froze_any = true;
    }
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  }
  if (!freeze.empty() && !froze_any) {
    throw Error(ErrorCode::invalid_argument, cfg.source + ": train.freeze matches no parameter name");
  }
  if (params.empty()) throw Error(ErrorCode::invalid_argument, cfg.source + ": train.freeze leaves nothing to train");
  if (froze_any) policy.freeze_norm_statistics(true);
  AdamWOptions aopt;
  aopt.beta1 = cfg.train.adam_beta1;
  aopt.beta2 = cfg.train.adam_beta2;
  aopt.eps = cfg.train.adam_eps;
  aopt.weight_decay = cfg.train.weight_decay;
  r.optimizer = std::make_unique<AdamW>(params, aopt);
  if (main) {
    spdlog::info("training on {} in {}{}", model::device_name(r.device), r.dtype == torch::kFloat32 ? "float32" : "bfloat16",
                 r.optimizer->mixed_precision_params() > 0 ? " (float32 master weights and moments)" : "");
  }
  if (grpo) r.rewards = RewardSet::from_config(*r.grpo, ScoreRange{r.model->contract().score_min, r.model->contract().score_max});

  TrainerState state;
  state.kind = kind;
  if (!options.resume.empty()) {
    state = load_checkpoint(options.resume, *r.model, *r.optimizer);
    if (state.kind != kind) throw Error(ErrorCode::invalid_argument, options.resume.string() + ": is a " + state.kind + " checkpoint, not " + kind);
    spdlog::info("resumed {} at step {}", options.resume.string(), state.step);
  }
  const std::string config_toml = to_config(config).to_toml();
  if (main) {
    fs::create_directories(r.dir);
    write_file_atomic(r.dir / "config.toml", config_toml);
    truncate_metrics(r.dir / "metrics.jsonl", state.step);
    r.metrics.open(r.dir / "metrics.jsonl", std::ios::app);
  }

  // ---- settings of the loop ----
  const double lr0 = cfg.train.lr;
  const auto warmup = cfg.train.warmup_steps;
  const double max_norm = cfg.train.max_grad_norm;
  const auto ckpt_every = cfg.train.checkpoint_every;
  const auto keep = cfg.train.keep_last;
  const auto val_every = cfg.train.val_every;
  const auto max_nonfinite = cfg.train.max_nonfinite;
  const auto log_every = cfg.run.log_every;
  Augment aug;
  if (cfg.augment.crop.size() == 2) {
    aug.crop_width = cfg.augment.crop[0];
    aug.crop_height = cfg.augment.crop[1];
  }
  aug.hflip = cfg.augment.hflip;
  aug.vflip = cfg.augment.vflip;
  aug.rot90 = cfg.augment.rot90;
  const int decimals = grpo ? 2 : r.sft->sft.score_decimals;
  const double aux_weight = grpo ? 0.0 : r.sft->sft.aux_weight;
  const double text_weight = grpo ? 1.0 : r.sft->sft.text_weight;
  const double think_noise = grpo ? 0.0 : r.sft->sft.think_noise;
  std::optional<KadidLabelTable> kadid_labels;
  if (think_noise > 0) kadid_labels = KadidLabelTable::load_default();
  const RolloutSection rollout_cfg = grpo ? r.grpo->rollout : RolloutSection();
  const LossSection loss_cfg = grpo ? r.grpo->loss : LossSection();
  const auto K = rollout_cfg.k;
  model::SamplingParams sp;
  sp.temperature = rollout_cfg.temperature;
  sp.top_k = rollout_cfg.top_k;
  sp.top_p = rollout_cfg.top_p;
  sp.max_new_tokens = rollout_cfg.max_new_tokens;
  sp.stop_ids = r.model->stop_ids();
  sp.vocab_limit = static_cast<std::int64_t>(r.model->tokenizer().vocab_size());
  const bool uado = loss_cfg.uado;
  UadoOptions uopt;
  uopt.alpha = loss_cfg.alpha;
  uopt.lo = r.model->contract().score_min;
  uopt.hi = r.model->contract().score_max;
  LossOptions lopt;
  lopt.beta = beta;
  lopt.ref_kl = ref_kl;
  lopt.clip_low = loss_cfg.clip_low;
  lopt.clip_high = loss_cfg.clip_high;
  lopt.entropy_eta = loss_cfg.entropy_eta;
  lopt.rows_per_image = grpo ? K : 1;  // the perception KL is pooled per image
  const double gamma0 = loss_cfg.gamma0;
  const double gamma_epochs = loss_cfg.gamma_epochs;
  const auto mu = loss_cfg.mu;
  if (grpo && !froze_any) policy.freeze_norm_statistics(loss_cfg.freeze_norm);
  // pairs.on_the_fly: each image's twin is made as `hawkeye pairs` makes it (same builder, SSIM perceptibility
  // test at pairs.threshold, same seed for the same run seed and manifest path).
  PairOptions pair_options;
  pair_options.similarity = [](const Image& a, const Image& b) { return ssim(a, b); };
  pair_options.threshold = grpo ? r.grpo->pairs.threshold : PairsSection().threshold;

  const auto stop_id = r.model->stop_ids().front();
  std::vector<torch::Tensor> grads_list;

  TrainResult result;
  result.run_dir = r.dir;
  Progress bar(kind == "grpo" ? "grpo" : "sft", static_cast<std::uint64_t>(r.total_steps), options.progress && main);
  bar.advance(static_cast<std::uint64_t>(state.step));
  ordered_json last_val;

  // train.cache_visual (SFT): when every vision parameter is frozen and nothing augments the images, each
  // training image's visual tokens are computed once and kept in memory (up to train.cache_visual_mb).
  struct CachedVisual {
    torch::Tensor embeds;  // [tokens, D]
    model::Grid grid;
    int width = 0, height = 0;
  };
  std::unordered_map<std::size_t, CachedVisual> visual_cache;
  bool vision_params = false, vision_frozen = true;
  for (const auto& item : policy.named_parameters(true)) {
    if (item.key().rfind("visual.", 0) != 0) continue;
    vision_params = true;
    vision_frozen = vision_frozen && !item.value().requires_grad();
  }
  const bool augments = aug.crop_width > 0 || aug.hflip || aug.vflip || aug.rot90;
  const double cache_mb = cfg.train.cache_visual_mb;
  const auto grid = policy.visual_grid(512, 384);  // the KADID scale: an estimate of the tokens per image
  const double cache_need_mb = static_cast<double>(r.train.size()) * static_cast<double>(grid[0] * grid[1] * grid[2]) *
                               static_cast<double>(policy.decoder().config().hidden_size) * 4.0 / 1048576.0;
  const bool cache_visual = !grpo && cfg.train.cache_visual && vision_params && vision_frozen && !augments &&
                            cache_need_mb <= cache_mb;
  if (main && cache_visual) spdlog::info("visual tokens of the frozen encoder are computed once per training image (train.cache_visual)");

  // Rollouts of the current rollout-step (kept across the μ optimisation passes).
  struct Rollout {
    std::vector<std::size_t> idx;
    std::vector<Image> images, twins;
    model::PromptBatch prompts;  // B*K rows
    model::CompletionBatch completions;
    torch::Tensor old_logp, advantages;  // [N, T], [N]
    torch::Tensor mask;
    ordered_json stats;
  };
  std::vector<Rollout> rollouts;

  for (std::int64_t step = state.step; step < r.total_steps; ++step) {
    if (options.dist.world == 1 && options.stop && options.stop->load()) {  // dist: ranks agree after a step (below)
      result.interrupted = true;
      break;
    }
    const auto t_step = Clock::now();
    StepTimes times;
    const double lr = scheduled_lr(lr0, step, warmup, r.total_steps);
    const double epoch = epoch_at(r.train.size(), grpo ? step / mu : step, r.batch);
    r.optimizer->zero_grad();
    policy.train();
    ordered_json rec;
    rec["step"] = step + 1;
    rec["epoch"] = epoch;
    rec["lr"] = lr;
    double loss_sum = 0, aux_sum = 0;
    std::int64_t tokens = 0;

    const std::int64_t micro = r.batch / r.accum / options.dist.world;
    const auto global_idx = batch_indices(r.train.size(), r.seed, grpo ? step / mu : step, r.batch, options.dist.rank, options.dist.world);

    if (!grpo) {
      for (std::int64_t a = 0; a < r.accum; ++a) {
        auto tl = Clock::now();
        std::vector<std::filesystem::path> paths;
        std::vector<const TrainSample*> rows;
        for (std::int64_t k = 0; k < micro; ++k) {
          rows.push_back(&r.train[global_idx[a * micro + k]]);
          paths.push_back(rows.back()->image);
        }
        // Sizes of the images as the model sees them (the prompt depends on them for some architectures).
        std::vector<std::pair<int, int>> sizes(rows.size());
        model::VisualEmbeds vis;
        auto tf = Clock::now();
        if (cache_visual) {
          // A frozen encoder on unaugmented images gives the same visual tokens every epoch: encode each training
          // image once and keep its tokens (train.cache_visual).
          std::vector<std::filesystem::path> missing_paths;
          std::vector<std::size_t> missing;
          for (std::int64_t k = 0; k < micro; ++k) {
            const auto row = global_idx[a * micro + k];
            if (!visual_cache.count(row)) {
              missing.push_back(row);
              missing_paths.push_back(r.train[row].image);
            }
          }
          if (!missing.empty()) {
            const auto images = load_batch(missing_paths, r.limits, r.threads);
            std::vector<const Image*> ptrs;
            for (const auto& im : images) ptrs.push_back(&im);
            times.load += seconds_since(tl);
            tf = Clock::now();
            torch::NoGradGuard no_grad;
            const auto fresh = policy.encode_images(policy.preprocess(ptrs));
            for (std::size_t i = 0; i < missing.size(); ++i) {
              const auto n = fresh.tokens(static_cast<std::int64_t>(i));
              visual_cache[missing[i]] = {fresh.embeds.narrow(0, fresh.offsets[i], n).clone(), fresh.grid[i], images[i].width, images[i].height};
            }
          }
          std::vector<torch::Tensor> parts;
          vis.offsets.push_back(0);
          for (std::int64_t k = 0; k < micro; ++k) {
            const auto& c = visual_cache.at(global_idx[a * micro + k]);
            parts.push_back(c.embeds);
            vis.grid.push_back(c.grid);
            vis.offsets.push_back(vis.offsets.back() + c.embeds.size(0));
            sizes[static_cast<std::size_t>(k)] = {c.width, c.height};
          }
          vis.embeds = torch::cat(parts, 0);
        } else {
          auto images = load_batch(paths, r.limits, r.threads);
          // dist: seeded by the micro-batch's global index: N ranks x grad_accum A = 1 process x grad_accum N*A
          augment_batch(images, nullptr, aug, derive_seed(r.seed, std::uint64_t{0}), (step * options.dist.world + options.dist.rank) * r.accum + a);
          std::vector<const Image*> ptrs;
          for (std::size_t i = 0; i < images.size(); ++i) {
            ptrs.push_back(&images[i]);
            sizes[i] = {images[i].width, images[i].height};
          }
          times.load += seconds_since(tl);
          tf = Clock::now();
          vis = policy.encode_images(policy.preprocess(ptrs));
        }
        torch::Tensor loss = torch::zeros({}, torch::TensorOptions().device(r.device));
        if (text_weight > 0) {
          model::PromptBatch prompts;
          std::vector<std::vector<std::int64_t>> targets;
          std::int64_t longest = 0;
          std::vector<std::int64_t> trained_from(rows.size(), 0);  // sft.think_noise: tokens before it carry no loss
          bool any_noisy = false;
          for (std::size_t i = 0; i < rows.size(); ++i) {
            prompts.tokens.push_back(r.model->prompt_ids(sizes[i].first, sizes[i].second));
            prompts.image.push_back(static_cast<std::int64_t>(i));
            const std::string answer = "<answer>" + format_score(rows[i]->label, decimals) + "</answer>";
            std::vector<std::int64_t> t;
            const auto wrong = kadid_labels ? noisy_think_text(*rows[i], *kadid_labels, think_noise,
                                                               derive_seed(r.seed, "think_noise", static_cast<std::uint64_t>(step),
                                                                           global_idx[a * micro + static_cast<std::int64_t>(i)]))
                                            : std::string();
            if (wrong.empty()) {
              const auto ids = r.model->tokenizer().encode("<think>" + rows[i]->description + "</think>" + answer, /*allow_special=*/false);
              t.assign(ids.begin(), ids.end());
            } else {
              // The reasoning is another (type, level)'s; only the answer (the true label) is trained.
              const auto think_ids = r.model->tokenizer().encode("<think>" + wrong + "</think>", /*allow_special=*/false);
              const auto answer_ids = r.model->tokenizer().encode(answer, /*allow_special=*/false);
              t.assign(think_ids.begin(), think_ids.end());
              t.insert(t.end(), answer_ids.begin(), answer_ids.end());
              trained_from[i] = static_cast<std::int64_t>(think_ids.size());
              any_noisy = true;
            }
            t.push_back(stop_id);
            longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(t.size()));
            targets.push_back(std::move(t));
          }
          model::CompletionBatch comp;
          comp.tokens = torch::zeros({static_cast<std::int64_t>(targets.size()), longest}, torch::kInt64);
          comp.mask = torch::zeros({static_cast<std::int64_t>(targets.size()), longest}, torch::kBool);
          auto trained = any_noisy ? torch::zeros({static_cast<std::int64_t>(targets.size()), longest}, torch::kBool) : torch::Tensor();
          for (std::size_t i = 0; i < targets.size(); ++i) {
            const auto n = static_cast<std::int64_t>(targets[i].size());
            comp.tokens[i].narrow(0, 0, n).copy_(torch::tensor(targets[i], torch::kInt64));
            comp.mask[i].narrow(0, 0, n).fill_(true);
            if (any_noisy) trained[i].narrow(0, trained_from[i], n - trained_from[i]).fill_(true);
          }
          comp.tokens = comp.tokens.to(r.device);
          comp.mask = comp.mask.to(r.device);
          const auto logp = policy.token_logprobs(prompts, vis, comp);  // float32 in any model dtype
          const auto m = (any_noisy ? trained.to(r.device) : comp.mask).to(logp.scalar_type());
          loss = text_weight * -(logp * m).sum() / m.sum().clamp_min(1.0) / static_cast<double>(r.accum);
          tokens += m.sum().item<std::int64_t>();
        }
        if (aux_weight > 0) {
          model::AuxTargets targets;
          for (const auto* row : rows) {
            targets.scores.push_back(row->label);
            targets.types.push_back(row->type_id);
            targets.levels.push_back(row->level);
          }
          const auto aux_loss = policy.auxiliary_loss(vis, targets);
          if (!aux_loss.defined()) {
            throw Error(ErrorCode::invalid_argument, cfg.source + ": sft.aux_weight > 0 needs a model with an auxiliary head "
                                                                  "(vision_config.aux_head = true)");
          }
          aux_sum += aux_loss.item<double>() / static_cast<double>(r.accum);
          loss = loss + aux_weight * aux_loss / static_cast<double>(r.accum);
        }
        times.logprob += seconds_since(tf);
        auto tb = Clock::now();
        loss.backward();
        times.backward += seconds_since(tb);
        loss_sum += loss.item<double>();
      }
      rec["loss"] = loss_sum;
      if (aux_weight > 0) rec["aux_loss"] = aux_sum;
      if (cache_visual) rec["visual_cache_images"] = static_cast<std::int64_t>(visual_cache.size());
      rec["tokens"] = tokens;
    } else {
      // ---- GRPO: a new rollout batch every μ steps ----
      if (step % mu == 0 || rollouts.empty()) {
        rollouts.clear();
        for (std::int64_t a = 0; a < r.accum; ++a) {
          Rollout ro;
          auto tl = Clock::now();
          std::vector<std::filesystem::path> paths, twin_paths;
          for (std::int64_t k = 0; k < micro; ++k) {
            ro.idx.push_back(global_idx[a * micro + k]);
            paths.push_back(r.train[ro.idx.back()].image);
            if (perception && !on_the_fly) twin_paths.push_back(r.train[ro.idx.back()].twin);
          }
          ro.images = load_batch(paths, r.limits, r.threads);
          if (perception) {
            if (on_the_fly) {
              for (std::size_t i = 0; i < ro.images.size(); ++i) {
                ro.twins.push_back(build_pair(ro.images[i], derive_seed(r.seed, "pair|" + r.train[ro.idx[i]].id), pair_options).twin);
              }
            } else {
              ro.twins = load_batch(twin_paths, r.limits, r.threads);
            }
          }
          augment_batch(ro.images, perception ? &ro.twins : nullptr, aug, derive_seed(r.seed, std::uint64_t{0}),
                        ((step / mu) * options.dist.world + options.dist.rank) * r.accum + a);  // dist: global micro-batch index
          times.load += seconds_since(tl);

          auto tr = Clock::now();
          std::vector<const Image*> ptrs;
          for (const auto& im : ro.images) ptrs.push_back(&im);
          std::vector<model::GenerationRequest> reqs;
          model::VisualEmbeds vis;
          {
            torch::NoGradGuard ng;
            vis = policy.encode_images(policy.preprocess(ptrs));
          }
          for (std::size_t i = 0; i < ro.images.size(); ++i) {
            model::GenerationRequest q;
            q.prompt = r.model->prompt_ids(ro.images[i].width, ro.images[i].height);
            q.image = static_cast<std::int64_t>(i);
            q.num_samples = K;
            q.seed = derive_seed(r.seed, "rollout", static_cast<std::uint64_t>(step / mu), derive_seed(0, r.train[ro.idx[i]].id));
            reqs.push_back(std::move(q));
          }
          model::GenerationStats gs;
          const auto seqs = model::generate(policy, vis, reqs, sp, [&](const auto& ids) { return r.model->decode(ids); }, &gs);
          times.rollout += seconds_since(tr);
          // rewards, parsed scores
          const auto B = static_cast<std::int64_t>(ro.images.size());
          auto rew = torch::zeros({B, K}, torch::kFloat64);
          auto scores = torch::full({B, K}, std::nan(""), torch::kFloat32);
          std::vector<std::vector<double>> parts(r.rewards.size());
          std::int64_t longest = 1, gen_tokens = 0, failures = 0;
          for (const auto& s : seqs) {
            const auto res = r.rewards.evaluate(s.text, r.train[ro.idx[s.request]].label);
            rew[s.request][s.sample] = res.total;
            if (!res.answer.ok()) ++failures;
            if (res.uado.ok()) scores[s.request][s.sample] = static_cast<float>(res.uado.value);
            for (std::size_t p = 0; p < parts.size(); ++p) parts[p].push_back(res.parts[p]);
            longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(s.tokens.size()));
            gen_tokens += static_cast<std::int64_t>(s.tokens.size());
          }
          auto adv = group_advantages(rew);
          torch::Tensor w = torch::ones({B});
          if (uado) {
            w = uncertainty_weights(scores, uopt);
            adv = adv * w.to(adv.scalar_type()).unsqueeze(1);
          }
          const auto N = B * K;
          ro.completions.tokens = torch::zeros({N, longest}, torch::kInt64);
          ro.completions.mask = torch::zeros({N, longest}, torch::kBool);
          ro.old_logp = torch::zeros({N, longest}, torch::kFloat32);
          for (std::size_t q = 0; q < seqs.size(); ++q) {
            const auto& s = seqs[q];
            const auto n = static_cast<std::int64_t>(s.tokens.size());
            const auto row = s.request * K + s.sample;
            ro.completions.tokens[row].narrow(0, 0, n).copy_(torch::tensor(s.tokens, torch::kInt64));
            ro.completions.mask[row].narrow(0, 0, n).fill_(true);
            ro.old_logp[row].narrow(0, 0, n).copy_(torch::tensor(s.logprobs, torch::kFloat32));
            ro.prompts.tokens.push_back(reqs[s.request].prompt);
            ro.prompts.image.push_back(s.request);
          }
          // rows were appended in (request, sample) order, which is row = request*K + sample
          ro.advantages = adv.reshape({N}).to(torch::kFloat32).to(r.device);
          ro.completions.tokens = ro.completions.tokens.to(r.device);
          ro.completions.mask = ro.completions.mask.to(r.device);
          ro.old_logp = ro.old_logp.to(r.device);
          ro.mask = ro.completions.mask;
          ordered_json st;
          const auto names = r.rewards.names();
          for (std::size_t p = 0; p < parts.size(); ++p) {
            const auto t = torch::tensor(parts[p], torch::kFloat64);
            st["reward_" + names[p] + "_mean"] = t.mean().item<double>();
            st["reward_" + names[p] + "_std"] = t.numel() > 1 ? t.std().item<double>() : 0.0;
          }
          st["reward_mean"] = rew.mean().item<double>();
          st["reward_std"] = rew.std().item<double>();
          st["parse_failure_rate"] = static_cast<double>(failures) / static_cast<double>(N);
          st["advantage_abs_mean"] = adv.abs().mean().item<double>();
          st["advantage_std"] = adv.std().item<double>();
          st["uado_weight_mean"] = w.mean().item<double>();
          st["uado_weight_min"] = w.min().item<double>();
          st["completion_tokens_mean"] = static_cast<double>(gen_tokens) / static_cast<double>(N);
          st["rollout_tokens"] = gen_tokens;
          st["rollout_seconds"] = gs.prefill_seconds + gs.decode_seconds + gs.sample_seconds;
          ro.stats = st;
          rollouts.push_back(std::move(ro));
        }
      }
      // ---- log-prob passes, loss, backward ----
      const double gamma = perception ? perception_gamma(epoch, gamma0, gamma_epochs) : 0.0;
      lopt.gamma = gamma;
      double kl_ref = 0, kl_prcp = 0, pol = 0, clipfrac = 0, ent = 0;
      for (auto& ro : rollouts) {
        auto tf = Clock::now();
        std::vector<const Image*> ptrs, tptrs;
        for (const auto& im : ro.images) ptrs.push_back(&im);
        for (const auto& im : ro.twins) tptrs.push_back(&im);
        torch::Tensor ref_logp, deg_logp;
        {
          torch::NoGradGuard ng;
          if (r.reference) {
            auto& ref = r.reference->policy();
            const auto rv = ref.encode_images(ref.preprocess(ptrs));
            ref_logp = ref.token_logprobs(ro.prompts, rv, ro.completions);
          }
          if (perception && gamma > 0) {
            const auto dv = policy.encode_images(policy.preprocess(tptrs));
            deg_logp = policy.token_logprobs(ro.prompts, dv, ro.completions);
          }
        }
        const auto vis = policy.encode_images(policy.preprocess(ptrs));
        const auto logp = policy.token_logprobs(ro.prompts, vis, ro.completions);  // float32 in any model dtype
        const auto parts = qhawkeye_loss(logp, mu > 1 ? ro.old_logp : torch::Tensor(), ref_logp, deg_logp, ro.advantages,
                                         ro.mask, lopt);
        times.logprob += seconds_since(tf);
        auto tb = Clock::now();
        (parts.total / static_cast<double>(r.accum)).backward();
        times.backward += seconds_since(tb);
        // the logged numbers cross to the host together (one synchronisation on a GPU)
        const auto logged = torch::stack({parts.total.detach(), parts.kl_ref.detach(), parts.kl_prcp.detach(), parts.policy.detach(),
                                          parts.clip_fraction.detach(), parts.entropy.detach(), ro.mask.sum().to(torch::kFloat32)})
                                .to(torch::kCPU, torch::kFloat64);
        const auto* v = logged.data_ptr<double>();
        const double a = static_cast<double>(r.accum);
        loss_sum += v[0] / a;
        kl_ref += v[1] / a;
        kl_prcp += v[2] / a;
        pol += v[3] / a;
        clipfrac += v[4] / a;
        ent += v[5] / a;
        tokens += static_cast<std::int64_t>(std::llround(v[6]));
      }
      rec["loss"] = loss_sum;
      rec["policy_loss"] = pol;
      rec["kl_ref"] = kl_ref;
      rec["kl_prcp"] = (perception && gamma > 0) ? nlohmann::json(kl_prcp) : nlohmann::json(nullptr);
      rec["gamma"] = gamma;
      rec["clip_fraction"] = clipfrac;
      rec["entropy"] = ent;
      // rollout statistics (averaged over the accumulation micro-batches)
      ordered_json agg;
      double roll_tokens = 0, roll_seconds = 0;
      for (const auto& ro : rollouts) {
        for (auto it = ro.stats.begin(); it != ro.stats.end(); ++it) {
          if (it.key() == "rollout_tokens") roll_tokens += it->get<double>();
          else if (it.key() == "rollout_seconds") roll_seconds += it->get<double>();
          else if (it.key() == "uado_weight_min") agg[it.key()] = agg.contains(it.key()) ? std::min(agg[it.key()].get<double>(), it->get<double>()) : it->get<double>();
          else agg[it.key()] = (agg.contains(it.key()) ? agg[it.key()].get<double>() : 0.0) + it->get<double>() / rollouts.size();
        }
      }
      for (auto it = agg.begin(); it != agg.end(); ++it) rec[it.key()] = *it;
      if (step % mu == 0) rec["rollout_tokens_per_s"] = roll_seconds > 0 ? roll_tokens / roll_seconds : 0.0;
      rec["tokens"] = tokens;
    }

    // ---- gradients across ranks, clipping, the optimiser step ----
    if (options.dist.world > 1 && options.dist.average_gradients) {
      auto ta = Clock::now();
      grads_list.clear();
      for (auto& [name, p] : r.optimizer->params()) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads_list.push_back(p.grad());
      }
      options.dist.average_gradients(grads_list);
      rec["time_allreduce"] = seconds_since(ta);
      reduce_step_record(rec, loss_sum, options.dist);
    }
    auto to = Clock::now();
    const double gnorm = r.optimizer->clip_grad_norm(max_norm);
    const bool finite = std::isfinite(gnorm) && std::isfinite(loss_sum);
    if (finite) {
      r.optimizer->step(lr);
    } else {
      r.optimizer->zero_grad();
      ++state.nonfinite;
      spdlog::warn("step {}: non-finite loss or gradient ({} / {}); step skipped ({} of at most {})", step + 1, loss_sum, gnorm,
                   state.nonfinite, max_nonfinite);
      if (state.nonfinite > max_nonfinite) {
        throw Error(ErrorCode::numerical, "more than " + std::to_string(max_nonfinite) + " non-finite steps; training stopped (train.max_nonfinite)");
      }
    }
    times.optimizer += seconds_since(to);
    // dist: BatchNorm running statistics ("running_*" buffers) are averaged, so every rank holds the same model
    if (options.dist.world > 1 && options.dist.average_gradients && !(grpo && loss_cfg.freeze_norm)) {
      torch::NoGradGuard ng;
      std::vector<torch::Tensor> running;
      for (auto& b : policy.named_buffers(true))
        if (b.key().find("running_") != std::string::npos && b.value().is_floating_point()) running.push_back(b.value());
      if (!running.empty()) options.dist.average_gradients(running);
    }
    state.step = step + 1;
    rec["grad_norm"] = gnorm;
    rec["skipped"] = !finite;
    rec["time_load"] = times.load;
    if (grpo) rec["time_rollout"] = times.rollout;
    rec["time_logprob_forward"] = times.logprob;
    rec["time_backward"] = times.backward;
    rec["time_optimizer"] = times.optimizer;
    rec["time_step"] = seconds_since(t_step);
    if (state.step % log_every == 0 || state.step == r.total_steps || !finite) log_json(r, rec);
    bar.advance();

    const bool last = state.step == r.total_steps;
    // train.val_every = 0: validate once, at the end
    if (!r.val.empty() && ((val_every > 0 && state.step % val_every == 0) || last)) {
      last_val = validate(r, state.step, !grpo && !(text_weight > 0));
      log_json(r, last_val);
      spdlog::info("step {}: validation SRCC {} PLCC {} (n = {}, parse failures {})", state.step, last_val["srcc"].dump(),
                   last_val["plcc"].dump(), last_val["n"].dump(), last_val["parse_failures"].dump());
    }
    bool stop_now = (options.stop && options.stop->load()) ||
                    (options.stop_after_step > 0 && state.step >= options.stop_after_step && !last);
    if (options.dist.world > 1 && options.dist.sum) {  // dist: a Ctrl-C on any rank stops every rank after this step
      std::vector<double> flag{stop_now ? 1.0 : 0.0};
      options.dist.sum(flag);
      stop_now = flag[0] > 0;
    }
    if ((ckpt_every > 0 && state.step % ckpt_every == 0) || last || stop_now) {
      if (options.dist.barrier) options.dist.barrier();
      if (main) save_checkpoint(r.dir, *r.model, *r.optimizer, state, config_toml, keep);
    }
    if (stop_now) {
      result.interrupted = true;
      break;
    }
  }
  bar.finish();
  result.steps = state.step;
  result.last_validation = last_val;
  if (!result.interrupted && main) {
    const auto final_dir = r.dir / "final";
    model::save_model_dir(final_dir, r.model->policy(), r.model->dir().config, r.model->contract(), r.model->dir().tokenizer_json);
    result.final_model = final_dir;
  }
  if (options.dist.barrier) options.dist.barrier();
  result.seconds = seconds_since(t_start);
  return result;
}

}  // namespace hawkeye::rl
