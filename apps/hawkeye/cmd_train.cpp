// hawkeye sft --config C [--resume DIR] [key=value ...]   supervised warm start
// hawkeye train --config C [--resume DIR] [key=value ...] Q-Hawkeye GRPO
#include <csignal>
#include <iostream>

#include "cli.h"
#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/rl/trainer.h"

namespace hawkeye::cli {

namespace {

// Set by the first Ctrl-C: the trainer writes a checkpoint after the current step and returns.
// A second Ctrl-C ends the process at once (the last complete checkpoint stays valid: writes are atomic).
std::atomic<bool> g_stop{false};

extern "C" void on_interrupt(int) {
  if (g_stop.exchange(true)) std::_Exit(130);
}

struct TrainCommandOptions {
  std::string config;
  std::string resume;
  std::vector<std::string> overrides;
  bool json = false;
};

int run_training(const TrainCommandOptions& o, const std::string& kind, Context& ctx) {
  ctx.prepare(true);
  Config config = Config::load(o.config);
  for (const auto& ov : o.overrides) config.apply_override(ov);
  if (!config.has("run.threads")) config.set("run.threads", ctx.global.threads);
  if (ctx.global.seed != 0 && !config.has("run.seed")) config.set("run.seed", ctx.global.seed);
  rl::TrainOptions opts;
  opts.resume = o.resume;
  opts.stop = &g_stop;
  opts.progress = !ctx.global.quiet;
  g_stop = false;
  auto previous = std::signal(SIGINT, on_interrupt);
  rl::TrainResult result;
  try {
    result = rl::train(config, kind, opts);
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);
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
  sub->add_option("overrides", o->overrides, "key=value overrides of config entries (e.g. train.lr=1e-4 loss.uado=false)");
  sub->add_flag("--json", o->json, "Print the summary as one JSON line");
  sub->callback([o, &ctx, kind] { ctx.exit_code = run_training(*o, kind, ctx); });
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
