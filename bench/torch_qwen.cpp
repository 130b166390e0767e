// Qwen2.5-VL on CPU (float32, random weights): vision tower, prefill and decoding, for
//   tiny  = the parity fixture's shape (hidden 64, 2 layers per tower; tests/parity/make_qwen_fixture.py)
//   0.5B  = Qwen2.5-0.5B's language model (hidden 896, 24 layers, 14 heads / 2 kv heads, MLP 4864,
//           vocabulary 151936, tied) with a reduced vision tower (hidden 640, 8 blocks, 2 full-attention)
// Prompts: 150 text tokens + the image's visual tokens + 50 text tokens (about the Q-Hawkeye inference
// prompt). Counters: tokens/s, images/s, resident memory (MB) after the models are built.
//
//   bench_torch_qwen [--threads=N] [google-benchmark flags]
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstring>
#include <map>
#include <memory>

#include "hawkeye/core/random.h"
#include "hawkeye/model/init.h"
#include "hawkeye/model/qwen2_5_vl.h"
#include "hawkeye/model/runtime.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

Qwen2_5_VLConfig tiny_config() {
  Qwen2_5_VLConfig c;
  c.vision.depth = 2;
  c.vision.hidden_size = 64;
  c.vision.num_heads = 4;
  c.vision.intermediate_size = 128;
  c.vision.window_size = 56;
  c.vision.out_hidden_size = 64;
  c.vision.fullatt_block_indexes = {1};
  c.text.vocab_size = 272;
  c.text.hidden_size = 64;
  c.text.num_layers = 2;
  c.text.num_heads = 4;
  c.text.num_kv_heads = 2;
  c.text.intermediate_size = 128;
  c.text.rope_theta = 1e6;
  c.text.tie_word_embeddings = false;
  c.text.mrope_section = {2, 3, 3};
  c.image_token_id = 261;
  c.vision_start_token_id = 259;
  c.vision_end_token_id = 260;
  return c;
}

Qwen2_5_VLConfig half_b_config() {
  Qwen2_5_VLConfig c;
  c.vision.depth = 8;
  c.vision.hidden_size = 640;
  c.vision.num_heads = 10;
  c.vision.intermediate_size = 1710;
  c.vision.window_size = 112;
  c.vision.out_hidden_size = 896;
  c.vision.fullatt_block_indexes = {3, 7};
  c.text.vocab_size = 151936;
  c.text.hidden_size = 896;
  c.text.num_layers = 24;
  c.text.num_heads = 14;
  c.text.num_kv_heads = 2;
  c.text.intermediate_size = 4864;
  c.text.rope_theta = 1e6;
  c.text.tie_word_embeddings = true;
  c.text.mrope_section = {8, 12, 12};  // Qwen2.5-VL's 16/24/24 split scaled to head_dim 64
  return c;
}

std::int64_t rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

struct Built {
  std::shared_ptr<Qwen2_5_VL> model;
  std::int64_t rss_after_mb = 0;
};

Built& model(const std::string& name) {
  static std::map<std::string, Built> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  torch::manual_seed(0);
  QwenImageConfig img;
  img.min_pixels = 3136;
  img.max_pixels = 1024 * 1024;
  Built b;
  b.model = std::make_shared<Qwen2_5_VL>(name == "tiny" ? tiny_config() : half_b_config(), img);
  b.model->eval();
  b.rss_after_mb = rss_mb();
  return cache.emplace(name, b).first->second;
}

Image random_image(int w, int h) {
  Image im(w, h, 3);
  Rng rng(7);
  for (auto& p : im.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
  return im;
}

std::vector<std::int64_t> prompt_for(const Qwen2_5_VL& q, std::int64_t visual_tokens) {
  std::vector<std::int64_t> p;
  for (int i = 0; i < 150; ++i) p.push_back(30 + i % 200);
  p.push_back(q.config().vision_start_token_id);
  for (std::int64_t i = 0; i < visual_tokens; ++i) p.push_back(q.image_token_id());
  p.push_back(q.config().vision_end_token_id);
  for (int i = 0; i < 50; ++i) p.push_back(40 + i % 200);
  return p;
}

const char* kNames[] = {"tiny", "0.5B"};

// Vision tower on one picture: preprocessing (Pillow-exact bicubic, patches) + encoder.
void BM_QwenVision(benchmark::State& state) {
  auto& b = model(kNames[state.range(0)]);
  const int w = static_cast<int>(state.range(1)), h = static_cast<int>(state.range(2));
  const Image img = random_image(w, h);
  torch::NoGradGuard g;
  std::int64_t tokens = 0;
  for (auto _ : state) {
    const auto vis = b.model->encode_images(b.model->preprocess({&img}));
    tokens = vis.tokens(0);
    benchmark::DoNotOptimize(vis.embeds.data_ptr());
  }
  state.counters["visual_tokens"] = static_cast<double>(tokens);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["gflop_per_image"] = 2 * b.model->vision_macs(w, h) / 1e9;
  state.counters["rss_mb"] = static_cast<double>(b.rss_after_mb);
  state.counters["params_M"] = b.model->parameter_count() / 1e6;
}

// Prefill of one prompt (visual embeddings given): the whole prompt through the language model.
void BM_QwenPrefill(benchmark::State& state) {
  auto& b = model(kNames[state.range(0)]);
  const Image img = random_image(static_cast<int>(state.range(1)), static_cast<int>(state.range(2)));
  torch::NoGradGuard g;
  const auto vis = b.model->encode_images(b.model->preprocess({&img}));
  const auto prompt = prompt_for(*b.model, vis.tokens(0));
  for (auto _ : state) {
    b.model->clear_prefix_cache();  // the shared text prefix is computed every time (first image of a run)
    KVCache cache;
    const auto logits = b.model->prefill(PromptBatch{{prompt}, {0}}, vis, cache);
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  state.counters["prompt_tokens"] = static_cast<double>(prompt.size());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * prompt.size()), benchmark::Counter::kIsRate);
  state.counters["rss_mb"] = static_cast<double>(rss_mb());
}

// One decoding step for B rows (K rollouts of one prompt share it: the cache is expanded), after the prompt.
void BM_QwenDecodeStep(benchmark::State& state) {
  auto& b = model(kNames[state.range(0)]);
  const std::int64_t rows = state.range(1);
  const Image img = random_image(448, 448);
  torch::NoGradGuard g;
  const auto vis = b.model->encode_images(b.model->preprocess({&img}));
  const auto prompt = prompt_for(*b.model, vis.tokens(0));
  KVCache base;
  b.model->prefill(PromptBatch{{prompt}, {0}}, vis, base, 256);
  KVCache cache = rows > 1 ? base.expand(rows) : base;
  const auto next = torch::full({rows}, 65, torch::kInt64);
  std::int64_t steps = 0;
  for (auto _ : state) {
    const auto logits = b.model->decode_step(cache, next);
    benchmark::DoNotOptimize(logits.data_ptr());
    if (++steps == 200) {  // keep the context length near the prompt's
      state.PauseTiming();
      cache = rows > 1 ? base.expand(rows) : base;
      steps = 0;
      state.ResumeTiming();
    }
  }
  state.counters["context_tokens"] = static_cast<double>(prompt.size());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * rows), benchmark::Counter::kIsRate);
}

// Building the 0.5B model's modules: with torch's and Hugging Face's random initialisation (arg 0), and as
// load_policy builds a model whose weights come from a checkpoint, under a SkipInitGuard (arg 1).
void BM_QwenBuild(benchmark::State& state) {
  QwenImageConfig img;
  img.min_pixels = 3136;
  img.max_pixels = 1024 * 1024;
  double params = 0;
  for (auto _ : state) {
    std::unique_ptr<SkipInitGuard> guard;
    if (state.range(0) == 1) guard = std::make_unique<SkipInitGuard>();
    auto m = std::make_shared<Qwen2_5_VL>(half_b_config(), img);
    params = static_cast<double>(m->parameter_count());
    benchmark::DoNotOptimize(m.get());
  }
  state.counters["params_M"] = params / 1e6;
}

}  // namespace

BENCHMARK(BM_QwenVision)->Args({0, 448, 448})->Args({1, 448, 448})->Args({1, 1024, 768})->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_QwenPrefill)->Args({0, 448, 448})->Args({1, 448, 448})->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_QwenBuild)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_QwenDecodeStep)->Args({0, 1})->Args({0, 4})->Args({1, 1})->Args({1, 4})->Unit(benchmark::kMillisecond)->MinTime(2.0);

int main(int argc, char** argv) {
  int threads = 0;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else rest.push_back(argv[i]);
  }
  const int used = apply_threads(threads);
  benchmark::AddCustomContext("threads", std::to_string(used));
  benchmark::AddCustomContext("libtorch", torch_version());
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
