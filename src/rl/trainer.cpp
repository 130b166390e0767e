#include "hawkeye/rl/trainer.h"

#include <algorithm>
#include <cstdio>
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
#include "hawkeye/model/runtime.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/advantages.h"
#include "hawkeye/rl/checkpoint.h"
#include "hawkeye/rl/dataset.h"
#include "hawkeye/rl/losses.h"
#include "hawkeye/rl/rewards.h"
#include "train_step.h"

namespace hawkeye::rl {

namespace {

using detail::Run;

torch::ScalarType parse_train_dtype(const std::string& name, const std::string& source) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  throw Error(ErrorCode::invalid_argument, source + ": run.dtype '" + name + "': expected float32 or bfloat16");
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

// train_loop: the schedule, gradient sync across ranks, clipping, the non-finite check, logging, validation and
// checkpoints around a step's forward and backward passes (`step_impl`).
TrainResult train_loop(Run& r, detail::TrainStep& step_impl, TrainerState& state, const std::string& config_toml) {
  const auto& cfg = *r.cfg;
  const auto& options = r.opts;
  const bool grpo = r.grpo != nullptr;
  const bool main = options.dist.is_main();
  auto& policy = r.model->policy();
  const double lr0 = cfg.train.lr;
  const auto warmup = cfg.train.warmup_steps;
  const double max_norm = cfg.train.max_grad_norm;
  const auto ckpt_every = cfg.train.checkpoint_every;
  const auto keep = cfg.train.keep_last;
  const auto val_every = cfg.train.val_every;
  const auto max_nonfinite = cfg.train.max_nonfinite;
  const auto log_every = cfg.run.log_every;
  // a vision-only warm-start stage (sft.text_weight = 0) is validated by its auxiliary head
  const bool aux_only_validation = !grpo && !(r.sft->sft.text_weight > 0);
  // dist: BatchNorm running statistics are averaged across ranks unless GRPO keeps them frozen
  const bool sync_norm_statistics = !(grpo && r.grpo->loss.freeze_norm);
  std::vector<torch::Tensor> grads_list;

  TrainResult result;
  result.run_dir = r.dir;
  Progress bar(grpo ? "grpo" : "sft", static_cast<std::uint64_t>(r.total_steps), options.progress && main);
  bar.skip(static_cast<std::uint64_t>(state.step));  // a resumed run's steps: not part of the rate
  ordered_json last_val;

  // A step whose values do not depend on the thread count may follow the load (TrainOptions::follow_load_up_to).
  std::optional<ThreadGovernor> governor;
  struct RestoreCount {  // the caller's torch count comes back however the loop ends (a library caller keeps its own)
    int n = at::get_num_threads();
    ~RestoreCount() {
      if (at::get_num_threads() != n) at::set_num_threads(n);
    }
  } restore_count;
  if (options.follow_load_up_to > 0 && options.dist.world == 1 && step_impl.thread_count_free()) {
    governor.emplace(options.follow_load_up_to);
    spdlog::info("threads: this run's steps give the same values with any thread count; the count follows the load "
                 "before every step (1 to {})", governor->max_threads());
  }

  for (std::int64_t step = state.step; step < r.total_steps; ++step) {
    if (options.dist.world == 1 && options.stop && options.stop->load()) {  // dist: ranks agree after a step (below)
      result.interrupted = true;
      break;
    }
    const auto t_step = detail::Clock::now();
    detail::StepTimes times;
    const double lr = scheduled_lr(lr0, step, warmup, r.total_steps);
    detail::StepBatch batch;
    batch.step = step;
    batch.epoch = epoch_at(r.train.size(), step_impl.data_step(step), r.batch);
    batch.micro = r.batch / r.accum / options.dist.world;
    batch.rows = batch_indices(r.train.size(), r.seed, step_impl.data_step(step), r.batch, options.dist.rank, options.dist.world);
    r.optimizer->zero_grad();
    policy.train();
    ordered_json rec;
    rec["step"] = step + 1;
    rec["epoch"] = batch.epoch;
    rec["lr"] = lr;
    if (governor) rec["threads"] = governor->update();
    double loss_sum = step_impl.accumulate(batch, rec, times);

    // ---- gradients across ranks, clipping, the optimiser step ----
    if (options.dist.world > 1 && options.dist.average_gradients) {
      auto ta = detail::Clock::now();
      grads_list.clear();
      for (auto& [name, p] : r.optimizer->params()) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads_list.push_back(p.grad());
      }
      options.dist.average_gradients(grads_list);
      rec["time_allreduce"] = detail::seconds_since(ta);
      reduce_step_record(rec, loss_sum, options.dist);
    }
    auto to = detail::Clock::now();
    // A step whose values do not depend on the thread count sums the gradient norm and steps the optimiser on one core
    // (a sum split over threads adds in another order).
    const OpenMPThreadsWhile one_core(1, step_impl.thread_count_free());
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
    times.optimizer += detail::seconds_since(to);
    // dist: BatchNorm running statistics ("running_*" buffers) are averaged, so every rank holds the same model
    if (options.dist.world > 1 && options.dist.average_gradients && sync_norm_statistics) {
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
    rec["time_step"] = detail::seconds_since(t_step);
    if (state.step % log_every == 0 || state.step == r.total_steps || !finite) log_json(r, rec);
    if (bar.visible()) {  // the running loss (and GRPO's mean reward) on the progress line
      char status[96];
      if (rec.contains("reward_mean") && rec["reward_mean"].is_number()) {
        std::snprintf(status, sizeof status, "loss %.4g reward %.3f", loss_sum, rec["reward_mean"].get<double>());
      } else {
        std::snprintf(status, sizeof status, "loss %.4g", loss_sum);
      }
      bar.set_status(status);
    }
    bar.advance();

    const bool last = state.step == r.total_steps;
    // train.val_every = 0: validate once, at the end
    if (!r.val.empty() && ((val_every > 0 && state.step % val_every == 0) || last)) {
      last_val = validate(r, state.step, aux_only_validation);
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
  return result;
}

}  // namespace

Config resolve_train_config(const Config& config, const std::string& kind) { return to_config(read_train_config(config, kind)); }

TrainResult train(const Config& config, const std::string& kind, const TrainOptions& options) {
  return train(read_train_config(config, kind), options);
}

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  const auto t_start = detail::Clock::now();
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
  // A resumed run continues exactly only with the config it was written with (config_key_changes_trajectory
  // lists the keys that may differ: paths of output, logging, checkpoint and validation cadence, threads).
  std::vector<ConfigChange> config_changes;
  if (!options.resume.empty()) {
    const auto changes = config_changes_since(options.resume, to_config(config));
    if (!changes) {
      if (main) spdlog::warn("{}: the checkpoint has no config.toml; the config cannot be compared with the one it was written with", options.resume.string());
    } else if (!changes->empty()) {
      std::string list;
      for (const auto& c : *changes) {
        if (!list.empty()) list += ", ";
        list += c.key + " " + (c.before.is_null() ? std::string("(absent)") : c.before.dump()) + " -> " +
                (c.after.is_null() ? std::string("(absent)") : c.after.dump());
      }
      if (!options.allow_config_change) {
        throw Error(ErrorCode::invalid_argument,
                    options.resume.string() + ": the config differs from the one this checkpoint was written with (" + list +
                        "); a resumed run continues exactly only with the same values. Use them, or pass --allow-config-change "
                        "to continue with the new ones (the change is recorded in metrics.jsonl)");
      }
      if (main) spdlog::warn("resuming with a changed config: {}", list);
      config_changes = *changes;
    }
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
  // A run folder that this call makes is removed again if the setup below fails (a missing model, a bad
  // architecture file): everything in it is this call's own.
  struct NewRunFolder {
    std::filesystem::path dir;
    std::optional<PathLock>* lock = nullptr;
    bool remove_on_exit = false;
    ~NewRunFolder() {
      if (!remove_on_exit) return;
      lock->reset();
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } new_run_folder{r.dir, &run_lock, false};
  const bool folder_is_new = main && !fs::exists(r.dir, ec);
  if (main) run_lock.emplace(claim_run_directory(r.dir));
  new_run_folder.remove_on_exit = folder_is_new;  // only once this call holds it

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
  bool& froze_any = r.froze_any;
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
    if (!config_changes.empty()) {
      ordered_json rec;
      rec["kind"] = "config_change";
      rec["step"] = state.step;
      rec["checkpoint"] = options.resume.string();
      rec["changes"] = nlohmann::json::array();
      for (const auto& c : config_changes) rec["changes"].push_back({{"key", c.key}, {"before", c.before}, {"after", c.after}});
      r.metrics << rec.dump() << "\n";
      r.metrics.flush();
    }
  }
  new_run_folder.remove_on_exit = false;  // the run is set up: its folder stays, whatever happens next

  r.augment = Augment();
  if (cfg.augment.crop.size() == 2) {
    r.augment.crop_width = cfg.augment.crop[0];
    r.augment.crop_height = cfg.augment.crop[1];
  }
  r.augment.hflip = cfg.augment.hflip;
  r.augment.vflip = cfg.augment.vflip;
  r.augment.rot90 = cfg.augment.rot90;
  const auto step_impl = grpo ? detail::make_grpo_step(r) : detail::make_sft_step(r);
  TrainResult result = train_loop(r, *step_impl, state, config_toml);
  result.seconds = detail::seconds_since(t_start);
  return result;
}

}  // namespace hawkeye::rl
