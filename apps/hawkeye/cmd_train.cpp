// hawkeye sft --config C [--resume DIR [--allow-config-change]] [key=value ...]   supervised warm start
// hawkeye train --config C [--resume DIR [--allow-config-change]] [key=value ...] Q-Hawkeye GRPO
// Either takes --nproc N (N local workers) or runs as one rank under the torchrun variables (docs/distributed.md).
#include <csignal>
#include <iostream>
#include <variant>

#include "cli.h"
#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/dist/hooks.h"
#include "hawkeye/dist/launcher.h"
#include "hawkeye/rl/checkpoint.h"
#include <filesystem>
#include "hawkeye/rl/train_config.h"
#include "hawkeye/rl/trainer.h"

namespace hawkeye::cli {

namespace {

struct TrainCommandOptions {
  std::string config;
  std::string resume;
  bool allow_config_change = false;
  std::vector<std::string> overrides;
  bool json = false;
  int nproc = 1;
  std::string device, dtype;  // shorthands for run.device= / run.dtype= (empty: the config's)
};

// ---- distributed (docs/distributed.md) -------------------------------------------------------------------
std::atomic<int> g_forward_signal{0};
extern "C" void on_launcher_signal(int sig) { g_forward_signal = sig; }

std::chrono::milliseconds dist_timeout(const rl::RunSection& run) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(run.dist_timeout_s * 1000.0));  // > 0: checked
}

// `--nproc N`: N workers of this binary on this host, each with cores/N threads unless --threads is given.
int launch_workers(const TrainCommandOptions& o, const std::string& name, const std::string& kind, Context& ctx) {
  ctx.prepare(false);
  Config config = Config::load(o.config);
  for (const auto& ov : o.overrides) config.apply_override(ov);
  const auto train_config = rl::read_train_config(config, kind);  // a bad config is refused here, not by N workers
  const auto& run = rl::common_config(train_config).run;
  const int threads = dist::worker_threads(ctx.global.threads, o.nproc);
  dist::LaunchOptions lo;
  lo.program = std::filesystem::read_symlink("/proc/self/exe");
  lo.args = {name, "--config", o.config, "--threads", std::to_string(threads), "--log-level", ctx.global.log_level};
  if (!o.resume.empty()) lo.args.insert(lo.args.end(), {"--resume", o.resume});
  if (o.allow_config_change) lo.args.push_back("--allow-config-change");
  if (o.json) lo.args.push_back("--json");
  if (ctx.global.quiet) lo.args.push_back("--quiet");
  if (ctx.global.seed != 0) lo.args.insert(lo.args.end(), {"--seed", std::to_string(ctx.global.seed)});
  lo.args.insert(lo.args.end(), o.overrides.begin(), o.overrides.end());
  lo.nproc = o.nproc;
  lo.env["OMP_NUM_THREADS"] = std::to_string(threads);
  lo.store_timeout = dist_timeout(run);
  lo.grace = std::min(lo.store_timeout, std::chrono::milliseconds(30000));
  const std::filesystem::path run_dir = run.dir;
  lo.cleanup_dirs = {run_dir, run_dir / "checkpoints"};
  lo.forward_signal = &g_forward_signal;
  lo.on_start = [](int rank, pid_t pid) { spdlog::info("rank {} started (pid {})", rank, pid); };
  spdlog::info("starting {} workers with {} thread(s) each", o.nproc, threads);
  g_forward_signal = 0;
  auto prev_int = std::signal(SIGINT, on_launcher_signal);
  auto prev_term = std::signal(SIGTERM, on_launcher_signal);
  dist::LaunchResult res;
  try {
    res = dist::launch_local(lo);
  } catch (...) {
    std::signal(SIGINT, prev_int);
    std::signal(SIGTERM, prev_term);
    throw;
  }
  std::signal(SIGINT, prev_int);
  std::signal(SIGTERM, prev_term);
  if (res.failed_rank >= 0) std::cerr << "hawkeye: error: " << res.message << "\n";
  return res.exit_code;
}
// -----------------------------------------------------------------------------------------------------------

// The thread count a training run starts with, recorded as run.threads and kept for the whole run unless its steps
// do not depend on it (GRPO in parts: rl::TrainOptions::follow_load_up_to, set below) (a count changes the
// order of floating-point sums, so a run reproduces — and resumes to the same weights — only with its own count):
// --threads N; else the config's run.threads (> 0); else, resuming, the count the checkpoint recorded; else the
// cores that other processes leave free, measured over half a second at the start (all cores on an idle machine;
// two threads beside a busy process wait at every barrier for the descheduled one: bench/README.md §4).
int training_threads(const Context& ctx, const Config& config, const std::string& resume, bool worker) {
  if (worker || ctx.global.thread_mode == GlobalOptions::ThreadMode::fixed) return resolve_thread_count(ctx.global.threads);
  if (const int configured = config.get<int>("run.threads", 0); configured > 0) return configured;
  if (!resume.empty()) {
    const auto ckpt = rl::resolve_checkpoint(resume) / "config.toml";
    std::error_code ec;
    if (std::filesystem::exists(ckpt, ec)) {
      if (const int recorded = Config::load(ckpt).get<int>("run.threads", 0); recorded > 0) {
        log_setup(ctx.global.log_level, ctx.global.quiet);
        spdlog::info("threads: {}, as the checkpoint recorded (a resumed run keeps its count; --threads N changes it)", recorded);
        return recorded;
      }
    }
  }
  double others = -1;
  const int n = threads_for_load_now(0, 0.5, &others);
  log_setup(ctx.global.log_level, ctx.global.quiet);
  if (others >= 0) {
    spdlog::info("threads: {} of {} cores (other processes kept {:.2f} busy at the start); recorded as run.threads — "
                 "--threads N chooses another", n, available_cores(), others);
  }
  return n;
}

int run_training(const TrainCommandOptions& o, const std::string& name, const std::string& kind, Context& ctx) {
  if (ctx.global.thread_mode == GlobalOptions::ThreadMode::follow_load) {
    // A training run's numbers depend on its thread count (the order of floating-point sums), and a seed must
    // reproduce a run: its count is fixed and recorded (run.threads).
    throw Error(ErrorCode::invalid_argument, name + ": --threads auto is for scoring; a training run needs a fixed count "
                                             "(a number, 0 = all cores) so that its seed reproduces it");
  }
  const auto env = dist::dist_env_from_environment();
  if (o.nproc > 1 && env) {
    throw Error(ErrorCode::invalid_argument, "--nproc starts its own workers; it cannot be used in a process started with RANK / WORLD_SIZE");
  }
  if (o.nproc > 1) return launch_workers(o, name, kind, ctx);
  const bool worker = env && env->world > 1;
  if (worker) ctx.global.threads = dist::worker_threads(ctx.global.threads, env->local_world);
  Config config = Config::load(o.config);
  for (const auto& ov : o.overrides) config.apply_override(ov);
  // Neither --threads N nor the config's run.threads fixes the count: a run whose steps do not depend on it may
  // follow the load from step to step (rl::TrainOptions::follow_load_up_to).
  const bool count_free = !worker && ctx.global.thread_mode != GlobalOptions::ThreadMode::fixed && config.get<int>("run.threads", 0) <= 0;
  ctx.global.threads = training_threads(ctx, config, o.resume, worker);
  ctx.prepare(true);
  config.set("run.threads", ctx.global.threads);
  if (ctx.global.seed != 0 && !config.has("run.seed")) config.set("run.seed", ctx.global.seed);
  auto train_config = rl::read_train_config(config, kind);
  auto& run = std::visit([](auto& c) -> rl::RunSection& { return c.run; }, train_config);
  // "cuda" in a multi-process run: each rank takes the GPU of its local rank (torchrun's convention).
  if (worker && run.device == "cuda") run.device = "cuda:" + std::to_string(env->local_rank);
  rl::TrainOptions opts;
  std::unique_ptr<dist::ProcessGroup> group;  // this rank's membership, for the whole run
  if (worker) {
    dist::GroupOptions go;
    go.timeout = dist_timeout(run);
    go.backend = run.dist_backend;
    group = dist::ProcessGroup::join(*env, go);
    opts.dist = dist::make_dist_hooks(*group, {run.dist_bucket_mb});
  }
  opts.resume = o.resume;
  opts.allow_config_change = o.allow_config_change;
  opts.stop = &stop_flag();
  opts.progress = !ctx.global.quiet;
  if (count_free) opts.follow_load_up_to = available_cores();
  rl::TrainResult result;
  {
    // The first Ctrl-C or SIGTERM: the trainer writes a checkpoint after the current step and returns. A second
    // one ends the process at once (the last complete checkpoint stays valid: writes are atomic).
    const StopOnSignal on_signal;
    result = rl::train(train_config, opts);
  }
  if (!opts.dist.is_main()) return result.interrupted ? exit_status(ErrorCode::interrupted) : kExitOk;  // rank 0 reports
  ordered_json j;
  j["kind"] = kind;
  j["run_dir"] = result.run_dir.string();
  j["steps"] = result.steps;
  j["seconds"] = result.seconds;
  j["interrupted"] = result.interrupted;
  j["final_model"] = result.final_model.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(result.final_model.string());
  j["last_validation"] = result.last_validation;
  std::cout << sanitize_json(j).dump(o.json ? -1 : 2) << "\n";
  return result.interrupted ? exit_status(ErrorCode::interrupted) : kExitOk;
}

void add_training_command(CLI::App& app, Context& ctx, const std::string& name, const std::string& kind, const std::string& help) {
  auto o = std::make_shared<TrainCommandOptions>();
  auto* sub = app.add_subcommand(name, help);
  sub->add_option("--config,-c", o->config, "Training config (TOML or JSON); keys in docs/training.md")->required();
  sub->add_option("--resume", o->resume, "Continue from a checkpoint directory or a run directory (its latest checkpoint)");
  sub->add_flag("--allow-config-change", o->allow_config_change,
                "With --resume: continue although keys that change the run differ from the checkpoint's config "
                "(refused otherwise; the change is recorded in metrics.jsonl)");
  sub->add_option("overrides", o->overrides, "key=value overrides of config entries (e.g. train.lr=1e-4 loss.uado=false)");
  sub->add_flag("--json", o->json, "Print the summary as one JSON line");
  sub->add_option("--nproc", o->nproc, "Start N local worker processes (data parallel; docs/distributed.md)")->check(CLI::Range(1, 4096));
  sub->add_option("--device", o->device, "cpu, cuda or cuda:N (= run.device; needs a CUDA build)");
  sub->add_option("--dtype", o->dtype, "float32 or bfloat16 (= run.dtype; bf16 keeps float32 master weights)");
  sub->callback([o, &ctx, name, kind] {
    if (!o->device.empty()) o->overrides.push_back("run.device=" + o->device);
    if (!o->dtype.empty()) o->overrides.push_back("run.dtype=" + o->dtype);
    ctx.exit_code = run_training(*o, name, kind, ctx);
  });
}

}  // namespace

void add_sft_command(CLI::App& app, Context& ctx) {
  add_training_command(app, ctx, "sft", "sft", "Supervised warm start (teacher-forced cross-entropy on the target text)");
}

void add_train_command(CLI::App& app, Context& ctx) {
  add_training_command(app, ctx, "train", "grpo",
                       "Q-Hawkeye GRPO training (uncertainty-weighted advantages, reference KL, perception loss)");
}

}  // namespace hawkeye::cli
