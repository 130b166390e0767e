// The trainers end to end on a tiny generated set: resume is exact, the smoke GRPO run raises the reward,
// the perception loss refuses rows without twins, checkpoints are complete.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>

#include <ATen/Parallel.h>

#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/lock.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/model/mobilenet.h"
#include "hawkeye/model/model_dir.h"
#include "hawkeye/model/tiny_vlm.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/checkpoint.h"
#include "hawkeye/rl/dataset.h"
#include "hawkeye/rl/trainer.h"
#include "hawkeye/text/tokenizer.h"
#include "trainer_fixtures.h"

using namespace hawkeye;

namespace {

Config make_config(const test::TinyTrainingSetup& s, const std::string& extra) {
  return Config::parse_toml(s.model_toml() + extra, "test.toml");
}

// Max |a - b| over all tensors of two weight files.
double max_weight_diff(const fs::path& a, const fs::path& b) {
  const auto sa = SafetensorsSet::open(a), sb = SafetensorsSet::open(b);
  double worst = 0;
  for (const auto& n : sa.names()) {
    const auto* ea = sa.find(n);
    const auto* eb = sb.find(n);
    if (!eb) return 1e9;
    const auto ta = model::tensor_from_entry(*ea, torch::kFloat64), tb = model::tensor_from_entry(*eb, torch::kFloat64);
    worst = std::max(worst, (ta - tb).abs().max().item<double>());
  }
  return worst;
}

}  // namespace

TEST(Dataset, BatchesAreStatelessDisjointAndCoverEachEpoch) {
  const std::size_t n = 10;
  std::vector<int> seen(n, 0);
  for (std::int64_t step = 0; step < 5; ++step)
    for (auto i : rl::batch_indices(n, 7, step, 2)) seen[i]++;
  for (int c : seen) EXPECT_EQ(c, 1);  // one epoch = every row once
  EXPECT_EQ(rl::batch_indices(n, 7, 3, 4), rl::batch_indices(n, 7, 3, 4));
  // two ranks split the global batch into disjoint halves that together equal one process
  const auto all = rl::batch_indices(n, 7, 2, 4, 0, 1);
  auto r0 = rl::batch_indices(n, 7, 2, 4, 0, 2), r1 = rl::batch_indices(n, 7, 2, 4, 1, 2);
  r0.insert(r0.end(), r1.begin(), r1.end());
  EXPECT_EQ(r0, all);
  EXPECT_THROW(rl::batch_indices(n, 7, 0, 3, 0, 2), Error);
}

TEST(TrainerSlow, SftResumeEqualsUninterruptedRun) {
  test::TinyTrainingSetup s(false);
  const std::string common = "[train]\nsteps = 6\nbatch_size = 4\nlr = 3e-3\nwarmup_steps = 2\nval_every = 0\nkeep_last = 5\n"
                             "checkpoint_every = 0\n[augment]\ncrop = [48, 32]\nhflip = true\n";
  rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "a").string() + "\"\nseed = 4\nthreads = 1\n"), "sft");
  // The same run stopped after step 3 (checkpoint written), then resumed from its run directory.
  const auto b = make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "b").string() + "\"\nseed = 4\nthreads = 1\nlog_every = 1\n");
  rl::TrainOptions o;
  o.stop_after_step = 3;
  const auto r1 = rl::train(b, "sft", o);
  ASSERT_TRUE(r1.interrupted);
  ASSERT_EQ(r1.steps, 3);
  rl::TrainOptions resume;
  resume.resume = s.dir.path() / "b";
  const auto r2 = rl::train(b, "sft", resume);
  EXPECT_EQ(r2.steps, 6);
  EXPECT_LT(max_weight_diff(s.dir.path() / "a" / "final", s.dir.path() / "b" / "final"), 1e-6);
  // the resumed run's metrics have one line per step, 1..6
  std::vector<std::int64_t> steps;
  for (const auto& j : test::read_metrics(s.dir.path() / "b"))
    if (!j.contains("kind")) steps.push_back(j["step"].get<std::int64_t>());
  EXPECT_EQ(steps, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(TrainerSlow, GrpoResumeEqualsUninterruptedRun) {
  test::TinyTrainingSetup s(true);
  const std::string common = "[train]\nsteps = 4\nbatch_size = 4\ngrad_accum = 2\nlr = 1e-3\nwarmup_steps = 1\nval_every = 0\n"
                             "checkpoint_every = 0\nkeep_last = 5\n[rollout]\nk = 3\nmax_new_tokens = 12\n[loss]\ngamma0 = 0.01\n";
  rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "a").string() + "\"\nseed = 9\nthreads = 1\n"), "grpo");
  const auto b = make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "b").string() + "\"\nseed = 9\nthreads = 1\n");
  rl::TrainOptions o;
  o.stop_after_step = 2;
  ASSERT_TRUE(rl::train(b, "grpo", o).interrupted);
  rl::TrainOptions resume;
  resume.resume = rl::checkpoint_dir(s.dir.path() / "b", 2);
  EXPECT_EQ(rl::train(b, "grpo", resume).steps, 4);
  EXPECT_LT(max_weight_diff(s.dir.path() / "a" / "final", s.dir.path() / "b" / "final"), 1e-6);
}

// With every "visual." parameter frozen, a GRPO step encodes each image once per rollout batch (and each twin once)
// and reuses that encoding for the policy's and the reference's log-probs; with the tower trainable every pass
// encodes again. Both give the same first step (same weights, same rollouts): the reuse changes no value.
TEST(Trainer, GrpoWithAFixedVisionTowerEncodesEachImageOncePerRolloutBatch) {
  test::TinyTrainingSetup s(true);
  const std::string common = "[rollout]\nk = 3\nmax_new_tokens = 12\n[loss]\ngamma0 = 0.01\n[train]\nsteps = 2\nbatch_size = 4\n"
                             "grad_accum = 1\nlr = 1e-3\nwarmup_steps = 0\nval_every = 0\ncheckpoint_every = 0\n";
  for (const char* name : {"fixed", "trained"}) {
    const bool fixed = std::string(name) == "fixed";
    rl::train(make_config(s, common + (fixed ? "freeze = [\"visual.\"]\n" : "") + "[run]\ndir = \"" +
                                 (s.dir.path() / name).string() + "\"\nseed = 5\nthreads = 1\nlog_every = 1\n"),
              "grpo");
  }
  const auto a = test::read_step_metrics(s.dir.path() / "fixed"), b = test::read_step_metrics(s.dir.path() / "trained");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::int64_t twins = a[i]["kl_prcp"].is_null() ? 0 : 4;
    ASSERT_TRUE(a[i].contains("images_encoded"));
    EXPECT_EQ(a[i]["images_encoded"].get<std::int64_t>(), 4 + twins) << "rollout + twins, step " << i + 1;
    EXPECT_EQ(b[i]["images_encoded"].get<std::int64_t>(), 4 + 4 + twins + 4) << "rollout + reference + twins + policy";
  }
  ASSERT_FALSE(a[0]["kl_prcp"].is_null()) << "the first step has a perception term";
  for (const char* key : {"loss", "kl_ref", "kl_prcp", "reward_mean"}) {
    EXPECT_NEAR(a[0][key].get<double>(), b[0][key].get<double>(), 1e-6) << key;
  }
}

TEST(Trainer, GrpoOfASmallModelWithAFixedTowerGivesTheSameRunWithAnyThreadCount) {
  // The step of a small language model on the CPU with the tower fixed is cut into parts that do not depend on the
  // thread count (rollouts, encodings and the loss), each computed on one core: 1, 2 and 3 threads must give the
  // same weights and the same logged numbers, bit for bit.
  test::TinyTrainingSetup s(true);
  const std::string common = "[rollout]\nk = 4\nmax_new_tokens = 12\ntemperature = 1.5\n[loss]\ngamma0 = 0.01\n[train]\nsteps = 3\n"
                             "batch_size = 8\ngrad_accum = 1\nlr = 1e-3\nwarmup_steps = 0\nval_every = 0\ncheckpoint_every = 0\n"
                             "freeze = [\"visual.\"]\n";
  const int before = at::get_num_threads();
  for (int n : {1, 2, 3}) {
    at::set_num_threads(n);
    rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / ("t" + std::to_string(n))).string() +
                                 "\"\nseed = 5\nthreads = " + std::to_string(n) + "\nlog_every = 1\n"),
              "grpo");
  }
  {
    // ... and a run whose count follows the machine's load from step to step (what `hawkeye train` does without
    // --threads): the count of each step is logged, the values are the same again
    rl::TrainOptions follow;
    follow.follow_load_up_to = 3;
    follow.progress = false;
    at::set_num_threads(2);
    rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "follow").string() + "\"\nseed = 5\nthreads = 2\nlog_every = 1\n"),
              "grpo", follow);
  }
  at::set_num_threads(before);
  for (const auto& m : test::read_step_metrics(s.dir.path() / "follow")) {
    ASSERT_TRUE(m.contains("threads"));
    EXPECT_GE(m["threads"].get<int>(), 1);
    EXPECT_LE(m["threads"].get<int>(), 3);
  }
  EXPECT_FALSE(test::read_step_metrics(s.dir.path() / "t2")[0].contains("threads")) << "a fixed count is not logged per step";
  const auto one = test::read_step_metrics(s.dir.path() / "t1");
  ASSERT_EQ(one.size(), 3u);
  ASSERT_TRUE(one[0]["tokens"].is_number());
  ASSERT_GT(one[0]["tokens"].dump(), "0");
  for (int n : {2, 3, 0}) {
    const auto dir = s.dir.path() / (n > 0 ? "t" + std::to_string(n) : std::string("follow"));
    EXPECT_EQ(max_weight_diff(s.dir.path() / "t1" / "final" / "model.safetensors", dir / "final" / "model.safetensors"), 0.0)
        << n << " threads (0: following the load)";
    const auto other = test::read_step_metrics(dir);
    ASSERT_EQ(other.size(), one.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      for (const char* key : {"loss", "kl_ref", "reward_mean", "grad_norm", "entropy", "tokens", "completion_tokens_mean", "uado_weight_mean"}) {
        EXPECT_EQ(one[i][key].dump(), other[i][key].dump()) << key << ", step " << i + 1 << ", " << n << " threads";
      }
    }
  }
}

TEST(Trainer, PerceptionLossRefusesRowsWithoutTwins) {
  test::TinyTrainingSetup s(false);
  auto c = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "r").string() + "\"\n[train]\nsteps = 1\nbatch_size = 2\ngrad_accum = 1\n");
  try {
    rl::train(c, "grpo");
    FAIL() << "started without twins";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("no twin"), std::string::npos) << e.what();
  }
  // ... unless twins are built on the fly
  c.set("pairs.on_the_fly", true);
  c.set("rollout.max_new_tokens", 4);
  const auto r = rl::train(c, "grpo");
  EXPECT_EQ(r.steps, 1);
}

TEST(Trainer, RefusesToOverwriteARunAndBadConfig) {
  test::TinyTrainingSetup s(false);
  auto c = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "r").string() + "\"\n[train]\nsteps = 1\nbatch_size = 2\n");
  rl::train(c, "sft");
  EXPECT_THROW(rl::train(c, "sft"), Error);  // checkpoints exist: needs --resume or another dir
  auto bad = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "q").string() + "\"\n[train]\nsteps = 1\nbatch_size = 3\ngrad_accum = 2\n");
  EXPECT_THROW(rl::train(bad, "sft"), Error);
  EXPECT_THROW(rl::train(c, "dpo"), Error);
}

TEST(Trainer, FreezeKeepsThePrefixedParametersFixed) {
  test::TinyTrainingSetup s(false);
  const std::string run = (s.dir.path() / "f").string();
  auto c = make_config(s, "[run]\ndir = \"" + run + "\"\nthreads = 1\n[train]\nsteps = 2\nbatch_size = 2\nlr = 1e-2\nwarmup_steps = 0\n"
                          "val_every = 0\nfreeze = [\"visual.\"]\n");
  rl::train(c, "sft");
  const auto init = SafetensorsSet::open(fs::path(run) / "init" / "model.safetensors");
  const auto fin = SafetensorsSet::open(fs::path(run) / "final" / "model.safetensors");
  double vision_change = 0, lm_change = 0;
  for (const auto& n : init.names()) {
    const auto a = model::tensor_from_entry(*init.find(n), torch::kFloat64);
    const auto b = model::tensor_from_entry(*fin.find(n), torch::kFloat64);
    const double d = (a - b).abs().max().item<double>();
    (n.rfind("visual.", 0) == 0 ? vision_change : lm_change) = std::max(n.rfind("visual.", 0) == 0 ? vision_change : lm_change, d);
  }
  EXPECT_EQ(vision_change, 0.0);  // weights and BatchNorm running statistics untouched
  EXPECT_GT(lm_change, 0.0);
  // A prefix that matches nothing, and a stage with nothing to train, are configuration errors.
  auto none = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "g").string() + "\"\n[train]\nsteps = 1\nbatch_size = 2\nfreeze = [\"vision_tower.\"]\n");
  EXPECT_THROW(rl::train(none, "sft"), Error);
  auto nothing = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "h").string() + "\"\n[train]\nsteps = 1\nbatch_size = 2\n[sft]\ntext_weight = 0.0\n");
  EXPECT_THROW(rl::train(nothing, "sft"), Error);
}

TEST(TrainerSlow, SmokeGrpoRaisesTheReward) {
  test::TinyTrainingSetup s(true);
  // 1. a warm start that teaches the answer format
  auto sft = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "sft").string() + "\"\nseed = 1\nthreads = 1\n"
                            "[train]\nsteps = 60\nbatch_size = 8\nlr = 3e-3\nwarmup_steps = 5\nval_every = 0\ncheckpoint_every = 0\n");
  const auto warm = rl::train(sft, "sft");
  // 2. twenty GRPO steps from it
  auto grpo = make_config(s, "[run]\ndir = \"" + (s.dir.path() / "grpo").string() + "\"\nseed = 2\nthreads = 1\nlog_every = 1\n"
                             "[train]\nsteps = 20\nbatch_size = 8\ngrad_accum = 1\nlr = 2e-3\nwarmup_steps = 0\nmax_grad_norm = 1.0\n"
                             "val_every = 0\ncheckpoint_every = 0\n[rollout]\nk = 4\nmax_new_tokens = 40\n[loss]\ngamma0 = 0.001\n");
  grpo.set("model.init", warm.final_model.string());
  rl::train(grpo, "grpo");
  const auto m = test::read_step_metrics(s.dir.path() / "grpo");
  ASSERT_EQ(m.size(), 20u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += m[i]["reward_mean"].get<double>() / 5;
  for (int i = 15; i < 20; ++i) last += m[i]["reward_mean"].get<double>() / 5;
  std::cout << "mean reward of steps 1-5: " << first << ", steps 16-20: " << last << "\n";
  EXPECT_GT(last, first);
  for (const auto& j : m) {
    for (const char* key : {"reward_accuracy_mean", "reward_format_mean", "reward_repetition_mean", "parse_failure_rate",
                            "advantage_abs_mean", "uado_weight_mean", "uado_weight_min", "kl_ref", "kl_prcp", "gamma", "lr",
                            "grad_norm", "completion_tokens_mean", "time_rollout", "time_logprob_forward", "time_backward",
                            "time_optimizer"}) {
      EXPECT_TRUE(j.contains(key)) << key;
    }
  }
}

// run.device / run.dtype: unknown values and a GPU this build or machine lacks are refused before anything is
// written; run.device = "cpu" is the default run.
TEST(Trainer, DeviceAndDtypeAreCheckedBeforeTraining) {
  test::TinyTrainingSetup s(false);
  const std::string train = "[train]\nsteps = 2\nbatch_size = 2\nval_every = 0\ncheckpoint_every = 0\n";
  auto run = [&](const std::string& name, const std::string& extra) {
    return make_config(s, train + "[run]\ndir = \"" + (s.dir.path() / name).string() + "\"\nseed = 3\nthreads = 1\n" + extra);
  };
  auto expect_error = [&](const Config& c, ErrorCode code, const std::string& part) {
    try {
      rl::train(c, "sft");
      ADD_FAILURE() << "accepted " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(run("d1", "dtype = \"float16\"\n"), ErrorCode::invalid_argument, "run.dtype");
  expect_error(run("d2", "device = \"tpu\"\n"), ErrorCode::invalid_argument, "expected cpu, cuda or cuda:N");
  if (!torch::cuda::is_available()) expect_error(run("d3", "device = \"cuda\"\n"), ErrorCode::unsupported, "CUDA");
  EXPECT_FALSE(fs::exists(s.dir.path() / "d1" / "checkpoints"));
  rl::train(run("default", ""), "sft");
  rl::train(run("cpu", "device = \"cpu\"\ndtype = \"float32\"\n"), "sft");
  EXPECT_EQ(max_weight_diff(s.dir.path() / "default" / "final", s.dir.path() / "cpu" / "final"), 0.0);
  // the supervised stage in bf16 too (its losses are computed in float32)
  rl::train(run("bf16", "dtype = \"bfloat16\"\nlog_every = 1\n"), "sft");
  const auto m = test::read_step_metrics(s.dir.path() / "bf16");
  ASSERT_EQ(m.size(), 2u);
  for (const auto& j : m) EXPECT_TRUE(j["loss"].is_number() && std::isfinite(j["loss"].get<double>()) && !j["skipped"].get<bool>()) << j.dump();
}

// run.dtype = "bfloat16" (what a GPU run of a large model uses): the policy and the reference run in bf16, the
// optimiser keeps float32 masters that are checkpointed, and a resumed run equals the uninterrupted one.
TEST(Trainer, Bfloat16GrpoKeepsFloat32MastersAndResumesExactly) {
  test::TinyTrainingSetup s(true);
  const std::string common = "[train]\nsteps = 4\nbatch_size = 4\ngrad_accum = 2\nlr = 1e-3\nwarmup_steps = 1\nval_every = 0\n"
                             "checkpoint_every = 0\nkeep_last = 5\n[rollout]\nk = 3\nmax_new_tokens = 12\n[loss]\ngamma0 = 0.01\n";
  auto cfg = [&](const std::string& name) {
    return make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / name).string() + "\"\nseed = 9\nthreads = 1\ndtype = \"bfloat16\"\n");
  };
  rl::train(cfg("a"), "grpo");
  rl::TrainOptions o;
  o.stop_after_step = 2;
  ASSERT_TRUE(rl::train(cfg("b"), "grpo", o).interrupted);
  const auto ckpt = rl::checkpoint_dir(s.dir.path() / "b", 2);
  const auto opt = SafetensorsSet::open(ckpt / "optimizer.safetensors");
  std::size_t masters = 0;
  for (const auto& n : opt.names()) {
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".master") == 0) {
      ++masters;
      EXPECT_EQ(opt.find(n)->info->dtype, StDtype::F32) << n;
    }
  }
  EXPECT_GT(masters, 0u);
  rl::TrainOptions resume;
  resume.resume = ckpt;
  EXPECT_EQ(rl::train(cfg("b"), "grpo", resume).steps, 4);
  EXPECT_EQ(max_weight_diff(s.dir.path() / "a" / "final", s.dir.path() / "b" / "final"), 0.0);
  // the final weights are bf16 values (stored losslessly as float32), and training moved them
  const auto fin = SafetensorsSet::open(s.dir.path() / "a" / "final" / "model.safetensors");
  double moved = 0;
  const auto init = SafetensorsSet::open(s.dir.path() / "a" / "init" / "model.safetensors");
  for (const auto& n : fin.names()) {
    const auto t = model::tensor_from_entry(*fin.find(n), torch::kFloat32);
    if (!t.is_floating_point()) continue;
    EXPECT_TRUE(torch::equal(t, t.to(torch::kBFloat16).to(torch::kFloat32))) << n;
    moved = std::max(moved, (t - model::tensor_from_entry(*init.find(n), torch::kFloat32)).abs().max().item<double>());
  }
  EXPECT_GT(moved, 0.0);
  // A float32 run's checkpoint holds no masters: resuming it in bf16 is refused, naming the missing state.
  auto f32 = make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "c").string() + "\"\nseed = 9\nthreads = 1\n");
  ASSERT_TRUE(rl::train(f32, "grpo", o).interrupted);
  rl::TrainOptions resume_f32;
  resume_f32.resume = rl::checkpoint_dir(s.dir.path() / "c", 2);
  resume_f32.allow_config_change = true;  // run.dtype differs: refused before the weights are read otherwise
  auto as_bf16 = f32;
  as_bf16.set("run.dtype", "bfloat16");
  try {
    rl::train(as_bf16, "grpo", resume_f32);
    ADD_FAILURE() << "a float32 checkpoint resumed in bf16";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data) << e.what();
    EXPECT_NE(std::string(e.what()).find(".master"), std::string::npos) << e.what();
  }
}

// train.cache_visual: with the vision tower frozen and no augmentation, SFT encodes each training image once;
// training is exactly what recomputing the visual tokens every step gives.
TEST(Trainer, CachedVisualTokensTrainExactlyAsRecomputedOnes) {
  test::TinyTrainingSetup s(false);
  const std::string common = "[augment]\nhflip = false\n[train]\nsteps = 9\nbatch_size = 4\nlr = 3e-3\nwarmup_steps = 2\n"
                             "val_every = 0\ncheckpoint_every = 0\nfreeze = [\"visual.\"]\n";
  for (const char* name : {"cached", "recomputed"}) {
    const bool cached = std::string(name) == "cached";
    const auto config = make_config(s, common + "cache_visual = " + (cached ? "true" : "false") + "\n[run]\ndir = \"" +
                                           (s.dir.path() / name).string() + "\"\nseed = 2\nthreads = 1\nlog_every = 1\n");
    ASSERT_EQ(config.get<bool>("train.cache_visual", !cached), cached);
    rl::train(config, "sft");
  }
  // 9 steps x 4 rows cover the 27 training rows more than once: later steps read the cache. The same
  // computation, up to float rounding (the encoder sees other batch compositions: BLAS blocking differs).
  EXPECT_LT(max_weight_diff(s.dir.path() / "cached" / "final", s.dir.path() / "recomputed" / "final"), 1e-6);
  const auto a = test::read_metrics(s.dir.path() / "cached"), b = test::read_metrics(s.dir.path() / "recomputed");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].contains("loss")) EXPECT_NEAR(a[i]["loss"].get<double>(), b[i]["loss"].get<double>(), 1e-5) << "step " << a[i]["step"];
  // Only the cached run kept visual tokens: every training row once the steps have covered them all.
  const auto last_step = [](const std::vector<nlohmann::json>& lines) {
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
      if (it->contains("loss")) return *it;
    return nlohmann::json();
  };
  EXPECT_EQ(last_step(a).value("visual_cache_images", -1), 27);
  EXPECT_FALSE(last_step(b).contains("visual_cache_images"));
}

// train.val_every = 0 validates once, after the last step (when data.val is set); without data.val nothing is
// validated.
TEST(Trainer, ValEveryZeroValidatesOnceAtTheEnd) {
  test::TinyTrainingSetup s(false);
  const std::string train = "[train]\nsteps = 3\nbatch_size = 2\nval_every = 0\ncheckpoint_every = 0\n";
  const auto r = rl::train(make_config(s, train + "[run]\ndir = \"" + (s.dir.path() / "v").string() + "\"\nthreads = 1\nlog_every = 1\n"),
                           "sft");
  std::vector<std::int64_t> validated;
  for (const auto& j : test::read_metrics(r.run_dir))
    if (j.value("kind", "") == "validation") validated.push_back(j["step"].get<std::int64_t>());
  EXPECT_EQ(validated, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(r.last_validation.value("step", 0), 3) << r.last_validation.dump();
  auto no_val = make_config(s, train + "[run]\ndir = \"" + (s.dir.path() / "n").string() + "\"\nthreads = 1\n");
  no_val.set("data.val", "");
  EXPECT_TRUE(rl::train(no_val, "sft").last_validation.is_null());
  EXPECT_EQ(test::read_step_metrics(s.dir.path() / "n").size(), test::read_metrics(s.dir.path() / "n").size());
}

// A model or manifest that cannot be read is refused before the run folder is made.
TEST(Trainer, AnUnreadableModelOrManifestLeavesNoRunFolder) {
  test::TinyTrainingSetup s(false);
  const std::string train = "[train]\nsteps = 1\nbatch_size = 2\n";
  int i = 0;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"model.init", (s.dir.path() / "no-model").string()},
                                   {"model.architecture", (s.dir.path() / "no-arch.json").string()},
                                   {"data.train", (s.dir.path() / "no-train.jsonl").string()},
                                   {"data.val", (s.dir.path() / "no-val.jsonl").string()}}) {
    const auto run = s.dir.path() / ("r" + std::to_string(i++));
    auto c = make_config(s, train + "[run]\ndir = \"" + run.string() + "\"\nthreads = 1\n");
    c.set(key, value);
    EXPECT_THROW(rl::train(c, "sft"), Error) << key;
    EXPECT_FALSE(fs::exists(run)) << key;
  }
}

// model.vision_init: a new model with a pretrained backbone starts from the given MobileNetV2 weights.
TEST(Trainer, VisionInitLoadsThePretrainedBackbone) {
  test::TinyTrainingSetup s(false);
  model::MobileNetV2 pretrained(3, false);
  {
    torch::NoGradGuard g;
    for (auto& p : pretrained->parameters()) p.normal_(0.0, 0.1);
  }
  const auto weights = s.dir.path() / "mnv2.safetensors";
  model::save_weights(*pretrained, weights);
  auto arch = nlohmann::json::parse(read_file(s.arch));
  arch["vision_config"] = {{"backbone", "mobilenet_v2"}, {"backbone_taps", {0, 2}}, {"grid", {2, 3}},
                           {"image_mean", {0.5, 0.5, 0.5}}, {"image_std", {0.5, 0.5, 0.5}}};
  const auto arch_file = s.dir.path() / "arch-mnv2.json";
  write_file_atomic(arch_file, arch.dump());
  const auto toml = [&](const std::string& run, const fs::path& init) {
    return "[model]\ninit = \"scratch\"\narchitecture = \"" + arch_file.string() + "\"\nhawkeye_json = \"" + s.contract.string() +
           "\"\ntokenizer = \"" + s.tokenizer.string() + "\"\nvision_init = \"" + init.string() + "\"\n[data]\ntrain = \"" +
           s.train.string() + "\"\n[run]\ndir = \"" + (s.dir.path() / run).string() + "\"\nthreads = 1\n[train]\nsteps = 1\n"
           "batch_size = 2\nval_every = 0\nfreeze = [\"visual.\"]\n";
  };
  rl::train(Config::parse_toml(toml("ok", weights), "test.toml"), "sft");
  const auto init = SafetensorsSet::open(s.dir.path() / "ok" / "init" / "model.safetensors");
  std::size_t compared = 0;
  for (const auto& p : pretrained->named_parameters()) {
    const auto* e = init.find("visual.backbone." + p.key());
    ASSERT_NE(e, nullptr) << p.key();
    EXPECT_TRUE(torch::equal(model::tensor_from_entry(*e, torch::kFloat32), p.value())) << p.key();
    ++compared;
  }
  EXPECT_EQ(compared, pretrained->parameters().size());
  // weights that do not fit the backbone, and an architecture without one, are errors before training
  model::MobileNetV2 shallow(1, false);
  model::save_weights(*shallow, s.dir.path() / "shallow.safetensors");
  EXPECT_THROW(rl::train(Config::parse_toml(toml("bad", s.dir.path() / "shallow.safetensors"), "test.toml"), "sft"), Error);
  auto plain = Config::parse_toml(s.model_toml() + "[run]\ndir = \"" + (s.dir.path() / "plain").string() +
                                      "\"\n[train]\nsteps = 1\nbatch_size = 2\n",
                                  "test.toml");
  plain.set("model.vision_init", weights.string());
  EXPECT_THROW(rl::train(plain, "sft"), Error);
}

// sft.aux_weight: the loss of the auxiliary head on the batch (smooth L1 on the score, cross-entropy on the KADID
// type and on the level) is logged as aux_loss and weighted into the step's loss; with text_weight = 0 validation
// reads the head's scores (source "auxiliary_head"). Both are checked against the head's outputs computed here.
TEST(Trainer, SftAuxiliaryLossAndScoresComeFromTheHead) {
  test::TinyTrainingSetup s(false);
  auto arch = nlohmann::json::parse(read_file(s.arch));
  arch["vision_config"]["aux_head"] = true;
  const auto arch_file = s.dir.path() / "arch-aux.json";
  write_file_atomic(arch_file, arch.dump());
  const auto run = [&](const std::string& name, const std::string& sft) {
    auto c = Config::parse_toml(s.model_toml() + "[run]\ndir = \"" + (s.dir.path() / name).string() +
                                    "\"\nseed = 3\nthreads = 1\nlog_every = 1\n[train]\nsteps = 2\nbatch_size = 4\nlr = 1e-3\n"
                                    "warmup_steps = 0\nval_every = 2\ncheckpoint_every = 0\n[augment]\nhflip = false\n[sft]\n" + sft,
                                "test.toml");
    c.set("model.architecture", arch_file.string());
    return rl::train(c, "sft");
  };
  // The head's outputs [N, 1 + 25 + 5] on the rows' images: score offset from 3, type logits, level logits.
  const auto head = [](const fs::path& model_dir, const std::vector<rl::TrainSample>& rows, bool training) {
    auto policy = std::dynamic_pointer_cast<model::TinyVlm>(model::load_policy(model::read_model_dir(model_dir)));
    if (!policy) throw std::runtime_error("not a hawkeye-tiny model");
    policy->train(training);
    std::vector<fs::path> paths;
    for (const auto& row : rows) paths.push_back(row.image);
    const auto images = rl::load_batch(paths, ImageLimits{}, 1);
    std::vector<const Image*> ptrs;
    for (const auto& im : images) ptrs.push_back(&im);
    torch::NoGradGuard g;
    return policy->auxiliary_outputs(policy->encode_images(policy->preprocess(ptrs))).to(torch::kFloat64);
  };
  // The first step's batch, and its loss from the initial model's head (training mode: batch statistics).
  const auto train_rows = rl::load_samples(s.train);
  std::vector<rl::TrainSample> batch;
  for (auto i : rl::batch_indices(train_rows.size(), 3, 0, 4)) batch.push_back(train_rows[i]);
  const auto expected_loss = [&](const fs::path& init) {
    const auto out = head(init, batch, true);
    const auto cross_entropy = [&](std::int64_t from, std::int64_t classes, std::int64_t k, int label) {
      const auto logits = out[k].narrow(0, from, classes);
      return torch::logsumexp(logits, 0).item<double>() - logits[label - 1].item<double>();
    };
    double smooth_l1 = 0, ce_type = 0, ce_level = 0;
    int typed = 0, levelled = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto k = static_cast<std::int64_t>(i);
      const double d = std::abs(out[k][0].item<double>() + 3.0 - static_cast<float>(batch[i].label));
      smooth_l1 += (d < 1.0 ? 0.5 * d * d : d - 0.5) / static_cast<double>(batch.size());
      if (batch[i].type_id >= 1 && batch[i].type_id <= 25) {
        ce_type += cross_entropy(1, 25, k, batch[i].type_id);
        ++typed;
      }
      if (batch[i].level >= 1 && batch[i].level <= 5) {
        ce_level += cross_entropy(26, 5, k, batch[i].level);
        ++levelled;
      }
    }
    EXPECT_GT(typed, 0);
    EXPECT_GT(levelled, 0);
    return smooth_l1 + ce_type / typed + ce_level / levelled;
  };
  const auto step = [](const fs::path& run_dir, std::int64_t n) {
    for (const auto& line : test::read_metrics(run_dir))
      if (line.contains("loss") && line["step"] == n) return line;
    return nlohmann::json();
  };

  // With the language-model loss: loss = text loss + aux_weight x aux_loss.
  const auto with_text = run("text", "text_weight = 1.0\naux_weight = 0.5\n");
  const auto first = step(with_text.run_dir, 1);
  ASSERT_TRUE(first.contains("aux_loss")) << first.dump();
  EXPECT_NEAR(first["aux_loss"].get<double>(), expected_loss(with_text.run_dir / "init"), 1e-5);
  EXPECT_GT(first["loss"].get<double>(), 0.5 * first["aux_loss"].get<double>());
  EXPECT_GT(first["tokens"].get<std::int64_t>(), 0);
  EXPECT_EQ(with_text.last_validation.value("source", ""), "greedy_answers");

  // Vision and head only: the loss is the auxiliary loss, and validation ranks the head's scores.
  const auto head_only = run("head", "text_weight = 0.0\naux_weight = 1.0\n");
  const auto only = step(head_only.run_dir, 1);
  EXPECT_NEAR(only["aux_loss"].get<double>(), expected_loss(head_only.run_dir / "init"), 1e-5);
  EXPECT_EQ(only["loss"].get<double>(), only["aux_loss"].get<double>());
  EXPECT_EQ(only["tokens"].get<std::int64_t>(), 0);
  const auto& val = head_only.last_validation;
  ASSERT_EQ(val.value("source", ""), "auxiliary_head") << val.dump();
  const auto val_rows = rl::load_samples(s.test);
  const auto scores = head(head_only.final_model, val_rows, false);
  std::vector<double> pred, gt;
  for (std::size_t i = 0; i < val_rows.size(); ++i) {
    pred.push_back(scores[static_cast<std::int64_t>(i)][0].item<double>() + 3.0);
    gt.push_back(val_rows[i].label);
  }
  EXPECT_EQ(val["n"].get<std::size_t>(), val_rows.size());
  EXPECT_EQ(val["parse_failures"].get<std::int64_t>(), 0);
  EXPECT_NEAR(val["srcc"].get<double>(), correlate(pred, gt).srcc.value, 1e-9);
  EXPECT_NEAR(val["plcc"].get<double>(), correlate(pred, gt).plcc.value, 1e-6);
}

// sft.twin_rank_weight: each row's image and its degraded twin are encoded in one pass (training mode: their batch
// statistics together), and the loss is mean(max(0, margin - (head score of the image - head score of the twin))).
// Checked against that computation on the initial model; without an auxiliary head the option is refused.
TEST(Trainer, SftTwinRankLossRanksEachImageAboveItsTwin) {
  test::TinyTrainingSetup s(/*with_twins=*/true);
  auto arch = nlohmann::json::parse(read_file(s.arch));
  arch["vision_config"]["aux_head"] = true;
  const auto arch_file = s.dir.path() / "arch-aux.json";
  write_file_atomic(arch_file, arch.dump());
  const auto config = [&](const std::string& name, const fs::path& architecture) {
    auto c = Config::parse_toml(s.model_toml() + "[run]\ndir = \"" + (s.dir.path() / name).string() +
                                    "\"\nseed = 3\nthreads = 1\nlog_every = 1\n[train]\nsteps = 2\nbatch_size = 4\nlr = 1e-3\n"
                                    "warmup_steps = 0\nval_every = 0\ncheckpoint_every = 0\n[augment]\nhflip = false\n[sft]\n"
                                    "text_weight = 0.0\naux_weight = 0.0\ntwin_rank_weight = 2.0\ntwin_rank_margin = 0.5\n",
                                "test.toml");
    c.set("model.architecture", architecture.string());
    return c;
  };
  const auto result = rl::train(config("rank", arch_file), "sft");
  const auto train_rows = rl::load_samples(s.train);
  std::vector<fs::path> paths, twin_paths;
  for (auto i : rl::batch_indices(train_rows.size(), 3, 0, 4)) {
    ASSERT_FALSE(train_rows[i].twin.empty());
    paths.push_back(train_rows[i].image);
    twin_paths.push_back(train_rows[i].twin);
  }
  auto policy = std::dynamic_pointer_cast<model::TinyVlm>(model::load_policy(model::read_model_dir(result.run_dir / "init")));
  ASSERT_TRUE(policy);
  policy->train(true);
  const auto images = rl::load_batch(paths, ImageLimits{}, 1);
  const auto twins = rl::load_batch(twin_paths, ImageLimits{}, 1);
  std::vector<const Image*> ptrs;
  for (const auto& im : images) ptrs.push_back(&im);
  for (const auto& im : twins) ptrs.push_back(&im);
  torch::NoGradGuard g;
  const auto out = policy->auxiliary_outputs(policy->encode_images(policy->preprocess(ptrs))).to(torch::kFloat64);
  double expected = 0;
  int ordered = 0;
  for (std::int64_t k = 0; k < 4; ++k) {
    const double gap = out[k][0].item<double>() - out[k + 4][0].item<double>();
    expected += std::max(0.0, 0.5 - gap) / 4.0;
    ordered += gap >= 0.5;
  }
  nlohmann::json first;
  for (const auto& line : test::read_metrics(result.run_dir))
    if (line.contains("loss") && line["step"] == 1) first = line;
  ASSERT_TRUE(first.contains("twin_rank_loss")) << first.dump();
  EXPECT_NEAR(first["twin_rank_loss"].get<double>(), expected, 1e-5);
  EXPECT_NEAR(first["loss"].get<double>(), 2.0 * expected, 1e-5);
  EXPECT_EQ(first["twin_pairs"].get<std::int64_t>(), 4);
  EXPECT_DOUBLE_EQ(first["twin_ordered"].get<double>(), ordered / 4.0);
  // A model without an auxiliary head cannot rank: refused before training.
  EXPECT_THROW(rl::train(config("plain", s.arch), "sft"), Error);
}

// sft.answer_target = "auxiliary_head": the answer a row trains is the model's own head's score of its image
// (clamped to the range), not its label. Checked against a run on a manifest whose labels are those head
// scores, computed here: the same first-step loss and tokens; a run on the true labels gets another loss.
TEST(Trainer, AnswerTargetFromTheAuxiliaryHeadIsTheHeadsScore) {
  test::TinyTrainingSetup s(false);
  auto arch = nlohmann::json::parse(read_file(s.arch));
  arch["vision_config"]["aux_head"] = true;
  const auto arch_file = s.dir.path() / "arch-aux.json";
  write_file_atomic(arch_file, arch.dump());
  const auto run = [&](const std::string& name, const fs::path& train, const std::string& target) {
    auto c = Config::parse_toml(s.model_toml() + "[run]\ndir = \"" + (s.dir.path() / name).string() +
                                    "\"\nseed = 3\nthreads = 1\nlog_every = 1\n[train]\nsteps = 1\nbatch_size = 4\nlr = 1e-3\n"
                                    "warmup_steps = 0\nval_every = 0\ncheckpoint_every = 0\n[augment]\nhflip = false\n[sft]\n"
                                    "answer_target = \"" + target + "\"\n",
                                "test.toml");
    c.set("model.architecture", arch_file.string());
    c.set("data.train", train.string());
    return rl::train(c, "sft");
  };
  const auto first_step = [](const fs::path& run_dir) {
    for (const auto& line : test::read_metrics(run_dir))
      if (line.contains("loss") && line["step"] == 1) return line;
    return nlohmann::json();
  };
  const auto from_head = run("head", s.train, "auxiliary_head");
  const auto a = first_step(from_head.run_dir);
  ASSERT_TRUE(a.contains("loss")) << a.dump();

  // The head's scores of the first batch, from the run's initial model in training mode (as the step sees them).
  auto policy = model::load_policy(model::read_model_dir(from_head.run_dir / "init"));
  policy->train(true);
  const auto rows = rl::load_samples(s.train);
  const auto batch = rl::batch_indices(rows.size(), 3, 0, 4);
  std::vector<fs::path> paths;
  for (auto i : batch) paths.push_back(rows[i].image);
  const auto images = rl::load_batch(paths, ImageLimits{}, 1);
  std::vector<const Image*> ptrs;
  for (const auto& im : images) ptrs.push_back(&im);
  std::vector<double> head;
  {
    torch::NoGradGuard g;
    head = policy->auxiliary_scores(policy->encode_images(policy->preprocess(ptrs)));
  }
  ASSERT_EQ(head.size(), batch.size());
  // The same manifest with those scores as labels (manifest lines 1.. are rows 0..).
  std::istringstream in(read_file(s.train));
  std::string line, out;
  std::size_t row = 0;
  std::getline(in, line);
  out = line + "\n";
  bool differs = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    const auto at = std::find(batch.begin(), batch.end(), row);
    if (at != batch.end()) {
      const double v = std::clamp(head[static_cast<std::size_t>(at - batch.begin())], 1.0, 5.0);
      differs = differs || std::abs(v - j["label"].get<double>()) > 0.01;
      j["label"] = v;
    }
    out += j.dump() + "\n";
    ++row;
  }
  ASSERT_TRUE(differs) << "an untrained head should not already give the labels";
  const auto relabelled = s.train.parent_path() / "train-head-labels.jsonl";
  write_file_atomic(relabelled, out);
  const auto b = first_step(run("labels-are-head", relabelled, "label").run_dir);
  EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(), 1e-6);
  EXPECT_EQ(a["tokens"], b["tokens"]);
  const auto c = first_step(run("labels", s.train, "label").run_dir);
  EXPECT_GT(std::abs(a["loss"].get<double>() - c["loss"].get<double>()), 1e-4);

  // A model without an auxiliary head is refused with the key's name.
  auto plain = Config::parse_toml(s.model_toml() + "[run]\ndir = \"" + (s.dir.path() / "plain").string() +
                                      "\"\nthreads = 1\n[train]\nsteps = 1\nbatch_size = 2\nval_every = 0\n[sft]\n"
                                      "answer_target = \"auxiliary_head\"\n",
                                  "test.toml");
  try {
    rl::train(plain, "sft");
    FAIL() << "a model without a head trained answers from it";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("answer_target"), std::string::npos) << e.what();
  }
}

// One GRPO step cut into 1, 2 or 4 micro-batches (train.grad_accum): the perception KL is pooled per image,
// every other term is a mean over sequences, so the step's loss, gradient norm and new weights are the same.
// (tests/rl/test_rl_math.cpp checks the same on completions of different lengths, exactly; the 2-process
// comparison is DistTrainingSlow.GrpoTwoProcessesEqualOne.)
TEST(TrainerSlow, GrpoStepIsTheSameForGradAccumOneTwoAndFour) {
  test::TinyTrainingSetup s(true);
  std::vector<nlohmann::json> first;
  for (int accum : {1, 2, 4}) {
    const auto dir = s.dir.path() / ("accum" + std::to_string(accum));
    const auto c = make_config(s, "[run]\ndir = \"" + dir.string() + "\"\nseed = 5\nthreads = 1\nlog_every = 1\n"
                                  "[train]\nsteps = 1\nbatch_size = 4\ngrad_accum = " + std::to_string(accum) +
                                  "\nlr = 1e-3\nwarmup_steps = 0\nval_every = 0\ncheckpoint_every = 0\n"
                                  // a large ε makes Adam's first update ≈ lr·g, so the new weights compare the gradients
                                  // (with ε = 1e-8 it is lr·sign(g), which float noise in near-zero gradients flips)
                                  "adam_eps = 1.0\n"
                                  "[rollout]\nk = 3\nmax_new_tokens = 12\n[loss]\ngamma0 = 1.0\ngamma_epochs = 0\n");
    ASSERT_EQ(rl::train(c, "grpo").steps, 1);
    const auto m = test::read_step_metrics(dir);
    ASSERT_EQ(m.size(), 1u);
    ASSERT_TRUE(m[0]["kl_prcp"].is_number());
    EXPECT_DOUBLE_EQ(m[0]["gamma"].get<double>(), 1.0);  // gamma_epochs = 0: γ stays γ0
    if (first.empty()) {
      first = m;
      continue;
    }
    for (const char* key : {"loss", "kl_prcp", "kl_ref", "policy_loss", "grad_norm", "reward_mean"}) {
      EXPECT_NEAR(m[0][key].get<double>(), first[0][key].get<double>(), 1e-6 * std::max(1.0, std::fabs(first[0][key].get<double>())))
          << key << ", grad_accum " << accum;
    }
    EXPECT_LT(max_weight_diff(s.dir.path() / "accum1" / "final", dir / "final"), 1e-6) << "grad_accum " << accum;
  }
}

// pairs.on_the_fly makes each twin with data::build_pair and the seed `hawkeye pairs` uses, so training on
// twins made on the fly equals training on the twins `hawkeye pairs` wrote with the run's seed.
TEST(TrainerSlow, OnTheFlyTwinsAreTheTwinsOfHawkeyePairs) {
  test::TinyTrainingSetup s(true);  // twins written by build_pairs with seed 0, SSIM, threshold 0.90
  const std::string common = "[train]\nsteps = 2\nbatch_size = 2\ngrad_accum = 1\nlr = 1e-3\nwarmup_steps = 0\nval_every = 0\n"
                             "checkpoint_every = 0\n[rollout]\nk = 2\nmax_new_tokens = 8\n[loss]\ngamma0 = 1.0\n";
  rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "file").string() + "\"\nseed = 0\nthreads = 1\n"), "grpo");
  rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "fly").string() + "\"\nseed = 0\nthreads = 1\n"
                                    "[pairs]\non_the_fly = true\n"), "grpo");
  EXPECT_LT(max_weight_diff(s.dir.path() / "file" / "final", s.dir.path() / "fly" / "final"), 1e-7);
  // pairs.threshold reaches the builder: at 0 every stage-1 twin counts as imperceptible and is degraded again
  rl::train(make_config(s, common + "[run]\ndir = \"" + (s.dir.path() / "fly0").string() + "\"\nseed = 0\nthreads = 1\n"
                                    "[pairs]\non_the_fly = true\nthreshold = 0.0\n"), "grpo");
  EXPECT_GT(max_weight_diff(s.dir.path() / "fly" / "final", s.dir.path() / "fly0" / "final"), 1e-7);
}

// configs/qwen2.5-vl-7b-qhawkeye.toml holds the paper's recipe (docs/method.md §3–6), value by value.
TEST(Trainer, ThePaperRecipeConfigHoldsThePaperValues) {
  const auto c = rl::resolve_train_config(Config::load(test::source_dir() / "configs" / "qwen2.5-vl-7b-qhawkeye.toml"), "grpo");
  EXPECT_EQ(c.get<std::int64_t>("rollout.k", 0), 4);
  EXPECT_EQ(c.get<double>("rollout.temperature", 0), 1.0);
  EXPECT_EQ(c.get<std::int64_t>("rollout.top_k", 0), 50);
  EXPECT_EQ(c.get<double>("rollout.top_p", 0), 1.0);
  EXPECT_EQ(c.get<std::int64_t>("rollout.max_new_tokens", 0), 2048);
  EXPECT_EQ(c.get<double>("train.lr", 0), 5e-6);
  EXPECT_EQ(c.get<std::int64_t>("train.warmup_steps", 0), 50);
  EXPECT_EQ(c.get<double>("train.adam_beta1", 0), 0.9);
  EXPECT_EQ(c.get<double>("train.adam_beta2", 0), 0.999);
  EXPECT_EQ(c.get<double>("train.adam_eps", 0), 1e-8);
  EXPECT_EQ(c.get<double>("train.weight_decay", 1), 0.0);
  EXPECT_EQ(c.get<double>("train.max_grad_norm", 0), 0.1);
  EXPECT_EQ(c.get<double>("train.epochs", 0), 15.0);
  EXPECT_EQ(c.get<std::int64_t>("train.steps", 1), 0);
  EXPECT_EQ(c.get<std::int64_t>("train.batch_size", 0), 8);  // 8 images x 4 rollouts per optimiser step
  EXPECT_EQ(c.get<std::int64_t>("train.grad_accum", 0), 2);
  EXPECT_TRUE(c.get<std::vector<std::string>>("train.freeze", {"x"}).empty());  // full fine-tuning
  EXPECT_EQ(c.get<double>("loss.beta", 0), 0.04);
  EXPECT_TRUE(c.get<bool>("loss.ref_kl", false));
  EXPECT_TRUE(c.get<bool>("loss.uado", false));
  EXPECT_EQ(c.get<double>("loss.alpha", 0), 0.2);
  EXPECT_TRUE(c.get<bool>("loss.perception", false));
  EXPECT_EQ(c.get<double>("loss.gamma0", 0), 1e-4);
  EXPECT_EQ(c.get<double>("loss.gamma_epochs", 0), 5.0);
  EXPECT_EQ(c.get<std::int64_t>("loss.mu", 0), 1);
  EXPECT_EQ(c.get<double>("loss.entropy_eta", 1), 0.0);
  EXPECT_EQ(c.get<std::string>("reward.rule", ""), "reference");
  EXPECT_EQ(c.get<double>("rewards.tau", 0), 0.30);
  EXPECT_EQ(c.get<double>("rewards.format_value", 0), 0.8);
  EXPECT_EQ(c.get<std::string>("run.dtype", ""), "bfloat16");
  // The prompt: the model directory's hawkeye.json, the reference's training prompt (the template's default
  // system line, then the image and the rating instruction).
  const auto j = nlohmann::json::parse(read_file(test::source_dir() / "configs" / "qwen2.5-vl-7b-qhawkeye.hawkeye.json"));
  EXPECT_EQ(j["prompt"]["preset"], "qhawkeye-train");
  const auto contract = model::IqaContract::from_json(j, "qwen2.5-vl-7b-qhawkeye.hawkeye.json");
  EXPECT_EQ(contract.score_min, 1.0);
  EXPECT_EQ(contract.score_max, 5.0);
  EXPECT_EQ(contract.sampling.max_new_tokens, 2048);
  EXPECT_EQ(contract.sampling.top_k, 50);
  // The reference run's image cap (its max_pixels), which the Instruct checkpoints' own 12,845,056 would replace.
  EXPECT_EQ(j["image"]["min_pixels"], 3136);
  EXPECT_EQ(j["image"]["max_pixels"], 786432);
}

// The shipped GRPO configs state their reward rule.
TEST(Trainer, ShippedGrpoConfigsStateTheRewardRule) {
  for (const char* name : {"hawkeye-tiny-grpo.toml", "qwen2.5-vl-7b-qhawkeye.toml"}) {
    const auto c = Config::load(test::source_dir() / "configs" / name);
    EXPECT_EQ(c.get<std::string>("reward.rule", "absent"), "reference") << name;
  }
}

// sft.think_noise: a wrong reasoning stands in for the row's own with probability p, and only the answer is
// trained under it (the logged token count is the answer's); the wrong text is never one of the row's phrasings.
TEST(Trainer, ThinkNoiseTrainsTheAnswerUnderAWrongReasoning) {
  const auto labels = KadidLabelTable::load_default();
  rl::TrainSample row;
  row.type_id = 3;  // motion blur
  row.level = 2;
  row.label = labels.mean(3, 2);
  const auto own = kadid_description_variants(3, 2, row.label);
  int replaced = 0;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    EXPECT_EQ(rl::noisy_think_text(row, labels, 0.0, seed), "");
    const auto text = rl::noisy_think_text(row, labels, 0.3, seed);
    if (text.empty()) continue;
    ++replaced;
    EXPECT_EQ(std::find(own.begin(), own.end(), text), own.end()) << text;
    EXPECT_EQ(text, rl::noisy_think_text(row, labels, 0.3, seed));  // seeded
  }
  EXPECT_NEAR(replaced / 2000.0, 0.3, 0.04);
  rl::TrainSample untyped = row;
  untyped.type_id = 0;
  EXPECT_EQ(rl::noisy_think_text(untyped, labels, 1.0, 7), "");

  // One SFT step with p = 1: every typed row of the batch trains only "<answer>x.xx</answer>" + the stop token.
  test::TinyTrainingSetup s(false);
  const auto run = [&](const std::string& name, const std::string& p) {
    return rl::train(make_config(s, "[run]\ndir = \"" + (s.dir.path() / name).string() +
                                        "\"\nseed = 5\nthreads = 1\nlog_every = 1\n[train]\nsteps = 1\nbatch_size = 4\n"
                                        "val_every = 0\ncheckpoint_every = 0\n[augment]\nhflip = false\n[sft]\nthink_noise = " + p + "\n"),
                     "sft");
  };
  const auto tokens = [&](const std::string& name) {
    for (const auto& line : test::read_metrics(s.dir.path() / name))
      if (line.contains("tokens")) return line["tokens"].get<std::int64_t>();
    return std::int64_t{-1};
  };
  run("clean", "0.0");
  run("noisy", "1.0");
  const auto tok = Tokenizer::load(s.tokenizer);
  const auto rows = rl::load_samples(s.train);
  std::int64_t clean = 0, answers = 0;
  for (auto i : rl::batch_indices(rows.size(), 5, 0, 4)) {
    char label[16];
    std::snprintf(label, sizeof label, "%.2f", rows[i].label);
    const auto answer = static_cast<std::int64_t>(tok.encode(std::string("<answer>") + label + "</answer>", false).size()) + 1;
    const auto full = static_cast<std::int64_t>(
                          tok.encode("<think>" + rows[i].description + "</think><answer>" + label + "</answer>", false).size()) + 1;
    clean += full;
    ASSERT_GE(rows[i].type_id, 1);
    const auto wrong = rl::noisy_think_text(rows[i], labels, 1.0, derive_seed(5, "think_noise", 0, i));
    answers += wrong.empty() ? full : answer;
  }
  EXPECT_EQ(tokens("clean"), clean);
  EXPECT_EQ(tokens("noisy"), answers);
  EXPECT_LT(answers, clean);
  EXPECT_THROW(run("bad", "1.5"), Error);
}

// Issue 18: two runs on one run.dir both exited 0 (one's metrics went to an unlinked file, its checkpoints were
// overwritten). The run directory is locked for the run's lifetime; a second run is refused before it writes.
// A (re)start removes the temporaries that runs killed mid-write left (each can be a whole checkpoint), but not
// those of a process still alive.
TEST(Trainer, RunDirectoryHasOneWriterAndARestartRemovesDeadRunsTemporaries) {
  test::TinyTrainingSetup s(false);
  const auto run = s.dir.path() / "r";
  auto c = make_config(s, "[run]\ndir = \"" + run.string() + "\"\nthreads = 1\n[train]\nsteps = 1\nbatch_size = 2\nval_every = 0\n");
  {
    const PathLock held = lock_directory(run, "run directory " + run.string());
    try {
      rl::train(c, "sft");
      FAIL() << "a second writer started";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::in_use);
      EXPECT_NE(std::string(e.what()).find("is in use by PID " + std::to_string(::getpid())), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(run / "config.toml"));
    EXPECT_FALSE(fs::exists(run / "metrics.jsonl"));
  }
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead), alive = std::to_string(::getpid());
  auto plant = [&] {
    fs::create_directories(run / "checkpoints" / ("step-00000007.tmp-" + d + "-0"));
    write_file_atomic(run / "checkpoints" / ("step-00000007.tmp-" + d + "-0") / "model.safetensors", "half");
    fs::create_directories(run / ("final.tmp-" + d + "-1"));
    write_file_atomic(run / ("config.toml.tmp-" + d + "-2"), "half");
    write_file_atomic(run / ("metrics.jsonl.tmp-" + alive + "-99"), "a live writer's");
  };
  auto left = [&] {
    std::vector<std::string> out;
    for (const auto& dir : {run, run / "checkpoints"})
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().filename().string());
    return out;
  };
  plant();
  EXPECT_EQ(rl::train(c, "sft").steps, 1);
  EXPECT_EQ(left(), std::vector<std::string>{"metrics.jsonl.tmp-" + alive + "-99"});
  EXPECT_FALSE(fs::exists(run / ".lock"));
  plant();
  c.set("train.steps", 2);
  rl::TrainOptions resume;
  resume.resume = run;
  resume.allow_config_change = true;  // train.steps 1 -> 2
  EXPECT_EQ(rl::train(c, "sft", resume).steps, 2);
  EXPECT_EQ(left(), std::vector<std::string>{"metrics.jsonl.tmp-" + alive + "-99"});
}

// Issue 18: `lr = nan` trained and wrote NaN weights to final/. A checkpoint of non-finite parameters is not
// written (exit 10) and the last good one stays the run's latest.
TEST(Trainer, ACheckpointOfNonFiniteParametersIsRefusedAndTheLastGoodOneStays) {
  test::TinyTrainingSetup s(false);
  const auto run = s.dir.path() / "r";
  auto c = make_config(s, "[run]\ndir = \"" + run.string() + "\"\nthreads = 1\n[train]\nsteps = 2\nbatch_size = 2\nval_every = 0\n"
                          "checkpoint_every = 1\nkeep_last = 1\n");
  rl::train(c, "sft");
  const auto good = rl::checkpoint_dir(run, 2);
  ASSERT_EQ(rl::latest_checkpoint(run), good);
  auto m = model::IqaModel::load(good.string());
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& p : m.policy().named_parameters()) params.emplace_back(p.key(), p.value());
  rl::AdamW opt(params, {});
  {
    torch::NoGradGuard g;
    params[1].second.view(-1)[0] = std::numeric_limits<float>::infinity();
  }
  rl::TrainerState state;
  state.kind = "sft";
  state.step = 3;
  try {
    rl::save_checkpoint(run, m, opt, state, "", 1);
    FAIL() << "wrote a checkpoint of non-finite parameters";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::numerical);
    EXPECT_EQ(exit_status(e.code()), 10);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("step 3: checkpoint not written (the last good one stays: " + good.string() + ")"), std::string::npos) << msg;
    EXPECT_NE(msg.find(params[1].first), std::string::npos) << msg;
  }
  EXPECT_EQ(rl::latest_checkpoint(run), good);
  for (const auto& e : fs::directory_iterator(run / "checkpoints")) EXPECT_EQ(e.path(), good);
}

// Issue 18 item 6: `train --resume` accepted a changed train.lr / run.seed / rollout.k and rewrote config.toml, so
// "continues exactly" no longer held. A key that changes the trajectory is refused before any work unless the
// resume allows it; then the change and its step are recorded. Cadence, threads and paths may differ.
TEST(Trainer, ResumeRefusesAChangedConfigUnlessAllowedAndRecordsTheChange) {
  test::TinyTrainingSetup s(false);
  const auto run = s.dir.path() / "r";
  auto c = make_config(s, "[run]\ndir = \"" + run.string() + "\"\nthreads = 1\nseed = 3\n[train]\nsteps = 3\nbatch_size = 2\n"
                          "val_every = 0\nlr = 1e-3\nkeep_last = 5\n");
  rl::TrainOptions first;
  first.stop_after_step = 1;
  ASSERT_TRUE(rl::train(c, "sft", first).interrupted);

  // free keys: logging and checkpoint cadence, validation, threads
  auto cadence = c;
  cadence.set("run.log_every", 1);
  cadence.set("train.checkpoint_every", 7);
  cadence.set("train.val_every", 9);
  cadence.set("run.threads", 2);
  rl::TrainOptions resume;
  resume.resume = run;
  resume.stop_after_step = 2;
  ASSERT_TRUE(rl::train(cadence, "sft", resume).interrupted);
  auto changes = rl::config_changes_since(run, rl::resolve_train_config(cadence, "sft"));
  ASSERT_TRUE(changes.has_value());
  EXPECT_TRUE(changes->empty());

  auto changed = c;
  changed.set("train.lr", 2e-3);
  changed.set("run.seed", 4);
  const std::string metrics_before = read_file(run / "metrics.jsonl");
  const std::string config_before = read_file(run / "config.toml");
  rl::TrainOptions again;
  again.resume = run;
  try {
    rl::train(changed, "sft", again);
    FAIL() << "resumed with a changed lr and seed";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(what.find("train.lr 0.001 -> 0.002"), std::string::npos) << what;
    EXPECT_NE(what.find("run.seed 3 -> 4"), std::string::npos) << what;
    EXPECT_NE(what.find("--allow-config-change"), std::string::npos) << what;
  }
  EXPECT_EQ(read_file(run / "metrics.jsonl"), metrics_before);  // refused before any work
  EXPECT_EQ(read_file(run / "config.toml"), config_before);
  EXPECT_EQ(rl::latest_checkpoint(run)->filename().string(), "step-00000002");

  again.allow_config_change = true;
  EXPECT_EQ(rl::train(changed, "sft", again).steps, 3);
  const auto metrics = test::read_metrics(run);
  std::vector<nlohmann::json> recorded;
  for (const auto& j : metrics)
    if (j.value("kind", "") == "config_change") recorded.push_back(j);
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0]["step"], 2);
  ASSERT_EQ(recorded[0]["changes"].size(), 2u);
  EXPECT_EQ(recorded[0]["changes"][0]["key"], "run.seed");
  EXPECT_EQ(recorded[0]["changes"][0]["before"], 3);
  EXPECT_EQ(recorded[0]["changes"][0]["after"], 4);
  EXPECT_EQ(recorded[0]["changes"][1]["key"], "train.lr");
  EXPECT_DOUBLE_EQ(recorded[0]["changes"][1]["after"].get<double>(), 2e-3);
  EXPECT_DOUBLE_EQ(Config::load(run / "config.toml").require<double>("train.lr"), 2e-3);  // the run's config now
  EXPECT_TRUE(rl::config_key_changes_trajectory("rollout.k"));
  EXPECT_TRUE(rl::config_key_changes_trajectory("run.dtype"));
  EXPECT_FALSE(rl::config_key_changes_trajectory("train.val_every"));
}
