// Scoring throughput of a model of the default hawkeye-tiny size (configs/hawkeye-tiny.json, random weights):
// greedy answers of a forced length for 512x384 images, batched.
//
//   BM_ModelLoad            IqaModel::load of the model directory (config, weights, tokenizer, contract)
//   BM_ScoreImages/B        score_images on B decoded images (the model alone)
//   BM_EncodeImages/B       its vision part alone (preprocess + encoder)
//   BM_ScoreFiles/B         score_files on 64 PNG files, batch B: decoding pipelined ahead of the model
//
// Every answer is exactly max_new_tokens = 40 tokens (no stop token can end it: a random model would stop at
// an arbitrary point), the length of a short "<think>...</think><answer>3.42</answer>". Counters: images/s
// (items_per_second), tokens per image, prefill/decode seconds per batch, and peak RSS of the process.
// Images: the Kodak references of data-work/refs (scripts/get-data.sh) centre-cropped to 512x384 (random pixels when absent).
// Threads: all cores (HAWKEYE_BENCH_THREADS overrides).
//
//   HAWKEYE_BENCH_THREADS=1 build/bench/bench_torch_score
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/version.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

using namespace hawkeye;

namespace {

constexpr std::int64_t kAnswerTokens = 40;

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux: KiB
}

// The model directory and the 64 images, made once per process.
// HAWKEYE_BENCH_KEEP=DIR writes them into DIR and keeps them (to time `hawkeye score` on the same inputs).
struct Fixture {
  const char* keep = std::getenv("HAWKEYE_BENCH_KEEP");
  fs::path dir = keep ? fs::path(keep) : fs::temp_directory_path() / ("hawkeye-bench-score-" + std::to_string(::getpid()));
  fs::path model_dir = dir / "hawkeye-tiny-random";
  std::vector<Image> images;
  std::vector<fs::path> files;

  Fixture() {
    const char* t = std::getenv("HAWKEYE_BENCH_THREADS");
    apply_threads(t ? std::atoi(t) : 0);
    const fs::path configs = resource_dir().parent_path() / "configs";
    const auto config = nlohmann::json::parse(read_file(configs / "hawkeye-tiny.json"));
    const auto contract_json = nlohmann::json::parse(read_file(configs / "hawkeye-tiny.hawkeye.json"));
    torch::manual_seed(1);
    auto policy = model::create_policy(config, "configs/hawkeye-tiny.json");
    const auto contract = model::IqaContract::from_json(contract_json, "configs/hawkeye-tiny.hawkeye.json");
    fs::create_directories(dir / "images");
    model::save_model_dir(model_dir, *policy, config, contract, resource_dir() / "tokenizers" / "hawkeye-byte" / "tokenizer.json");

    const fs::path kodak = fs::path(HAWKEYE_DATA_DIR) / "kodak";
    for (int i = 0; i < 64; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "kodim%02d.png", i % 24 + 1);
      std::error_code ec;
      Image img;
      if (fs::exists(kodak / name, ec)) {
        img = center_crop(resize_cover(load_image(kodak / name), 512, 384), 512, 384);
      } else {
        img = Image(512, 384, 3);
        Rng rng(i);
        for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
      }
      // Shift every copy a little so that no two files are identical.
      for (std::size_t k = 0; k < img.pixels.size(); k += 97) img.pixels[k] = static_cast<std::uint8_t>(img.pixels[k] ^ (i + 1));
      files.push_back(dir / "images" / ("img" + std::to_string(i) + ".png"));
      save_image(files.back(), img);
      images.push_back(std::move(img));
    }
  }
  ~Fixture() {
    std::error_code ec;
    if (!keep) fs::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

model::ScoreOptions forced_length(const model::IqaModel& m) {
  auto o = model::default_score_options(m, 0, 0);
  o.sampling.max_new_tokens = kAnswerTokens;
  o.sampling.stop_ids = {-1};  // no generated id equals -1: every answer runs to max_new_tokens
  return o;
}

void BM_ModelLoad(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto m = model::IqaModel::load(f.model_dir.string());
    benchmark::DoNotOptimize(m.policy().parameter_count());
  }
  auto m = model::IqaModel::load(f.model_dir.string());
  state.counters["parameters_M"] = m.policy().parameter_count() / 1e6;
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_ScoreImages(benchmark::State& state) {
  auto& f = fixture();
  auto m = model::IqaModel::load(f.model_dir.string());
  const auto opts = forced_length(m);
  const auto B = static_cast<std::size_t>(state.range(0));
  std::vector<const Image*> batch;
  for (std::size_t i = 0; i < B; ++i) batch.push_back(&f.images[i % f.images.size()]);
  model::score_images(m, batch, opts);  // warm-up: prompt cache, allocator
  model::GenerationStats stats;
  std::int64_t tokens = 0, batches = 0;
  for (auto _ : state) {
    const auto scores = model::score_images(m, batch, opts, {}, &stats);
    for (const auto& s : scores) tokens += s.tokens;
    ++batches;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * B));
  state.counters["tokens_per_image"] = static_cast<double>(tokens) / (batches * B);
  state.counters["prefill_s_per_batch"] = stats.prefill_seconds / batches;
  state.counters["decode_s_per_batch"] = (stats.decode_seconds + stats.sample_seconds) / batches;
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

// The vision part of score_images alone (preprocess + encoder), to split the time.
void BM_EncodeImages(benchmark::State& state) {
  auto& f = fixture();
  auto m = model::IqaModel::load(f.model_dir.string());
  std::vector<const Image*> batch;
  for (std::int64_t i = 0; i < state.range(0); ++i) batch.push_back(&f.images[i % f.images.size()]);
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto v = m.policy().encode_images(m.policy().preprocess(batch));
    benchmark::DoNotOptimize(v.embeds.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ScoreFiles(benchmark::State& state) {
  auto& f = fixture();
  auto m = model::IqaModel::load(f.model_dir.string());
  eval::BatchScoringOptions o;
  o.score = forced_length(m);
  o.batch = state.range(0);
  o.loader_threads = 1;
  std::size_t images = 0;
  std::int64_t tokens = 0;
  for (auto _ : state) {
    const auto s = eval::score_files(m, f.files, {}, o, [](const eval::ScoredImage& r) { benchmark::DoNotOptimize(r.result.score); });
    images += s.images;
    tokens += s.generated_tokens;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(images));
  state.counters["tokens_per_image"] = static_cast<double>(tokens) / images;
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

}  // namespace

// CPU time is the whole process's (all threads): on a shared machine, wall time / CPU time shows the contention.
BENCHMARK(BM_ModelLoad)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->MinTime(1.0);
BENCHMARK(BM_ScoreImages)->Arg(16)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->MinTime(3.0);
BENCHMARK(BM_EncodeImages)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->MinTime(2.0);
BENCHMARK(BM_ScoreFiles)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(2);
BENCHMARK_MAIN();
