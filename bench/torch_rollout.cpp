// GRPO rollouts of a model of the default hawkeye-tiny size (configs/hawkeye-tiny.json, random weights):
// 8 images (512x384) x K = 4 rollouts x exactly 64 new tokens (no stop token can end a row), sampled with
// temperature 1 and top-k 50 (configs/hawkeye-tiny.hawkeye.json), the prompt rendered by IqaModel::prompt_ids.
//
//   BM_RolloutCached     hawkeye's generate(): every image encoded once, the image-free prompt prefix once
//                        (batch 1), each image's prompt prefilled once and the KV cache expanded x K, then
//                        one decoding step of the 32 rows per token.
//   BM_RolloutRecompute  no cache: at every step the full forward of prompt + tokens so far for all 32 rows
//                        (Decoder::forward on the whole sequence, nothing shared between rows or steps; the
//                        images are still encoded once per batch, which favours this variant). Same per-row
//                        random streams as generate(), so its tokens should equal the cached variant's
//                        (counter rows_same_as_cached; float rounding may flip a rare sample).
//
// Counters (per rollout batch of 8 x 4 x 64 = 2048 tokens): batch_s (wall) and batch_cpu_s (this process's
// CPU time: on a loaded machine it is the better measure of the work), tokens_per_s and tokens_per_cpu_s,
// and the split of the wall time: vision_s (preprocess + encoder), prefill_s (prompt prefill + cache
// expansion; recompute: the first step's full forward), decode_s (forward passes of the later steps),
// sample_s (logits to host, log-sum-exp, top-k sampling), plus loadavg_1m at the end and the peak RSS.
//
// HAWKEYE_BENCH_PARITY=DIR (no benchmark runs): writes the random model (DIR/model), image 0 (DIR/image0.png)
// and, for that image, its visual tokens, the prompt's next-token logits, one sampled completion and its
// teacher-forced log-probs (DIR/parity.json), for `bench/python_rollout.py --parity DIR` to check that the Python
// baseline computes the same function.
//
// Config: --config=PATH or HAWKEYE_BENCH_CONFIG (default <source dir>/configs/hawkeye-tiny.json, the source
// dir from HAWKEYE_SOURCE_DIR or this file's location); images: the first 8 Kodak references of
// data-work/refs (scripts/get-data.sh) centre-cropped to 512x384 (random pixels when absent). Threads: --threads=N or
// HAWKEYE_BENCH_THREADS (default: all cores).
//
//   HAWKEYE_BENCH_THREADS=1 nice -n 10 build-bench/bench/bench_torch_rollout
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"

using namespace hawkeye;
using namespace hawkeye::model;

namespace {

constexpr int kImages = 8;
constexpr std::int64_t kRollouts = 4;
constexpr std::int64_t kNewTokens = 64;

std::string g_config_arg;  // --config=PATH

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux: KiB
}

double load_1m() {
  double l[3] = {0, 0, 0};
  return getloadavg(l, 3) > 0 ? l[0] : -1.0;
}

std::filesystem::path source_dir() {
  if (const char* s = std::getenv("HAWKEYE_SOURCE_DIR")) return s;
  return std::filesystem::path(__FILE__).parent_path().parent_path();
}

struct Fixture {
  ModelDir md;
  std::unique_ptr<IqaModel> model;
  std::vector<Image> images;
  std::vector<std::int64_t> prompt;
  SamplingParams sampling;
  std::vector<GenerationRequest> requests;
  std::vector<std::vector<std::int64_t>> cached_tokens;  // generate()'s tokens, row = image*K + sample

  Fixture() {
    const char* env_cfg = std::getenv("HAWKEYE_BENCH_CONFIG");
    const fs::path src = source_dir();
    const fs::path config_path = !g_config_arg.empty() ? fs::path(g_config_arg)
                                 : env_cfg             ? fs::path(env_cfg)
                                                       : src / "configs" / "hawkeye-tiny.json";
    const fs::path contract_path = src / "configs" / "hawkeye-tiny.hawkeye.json";
    const fs::path tokenizer_path = src / "resources" / "tokenizers" / "hawkeye-byte" / "tokenizer.json";
    md.dir = config_path.parent_path();
    md.config = nlohmann::json::parse(read_file(config_path));
    md.contract = IqaContract::from_json(nlohmann::json::parse(read_file(contract_path)), contract_path.string());
    md.architecture = md.config.value("architecture", "");
    md.tokenizer_json = tokenizer_path;
    torch::manual_seed(1);
    auto policy = create_policy(md.config, config_path.string());
    policy->eval();
    model = std::make_unique<IqaModel>(md, policy, Tokenizer::load(tokenizer_path));

    const fs::path kodak = fs::path(HAWKEYE_DATA_DIR) / "kodak";
    for (int i = 0; i < kImages; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "kodim%02d.png", i + 1);
      std::error_code ec;
      if (fs::exists(kodak / name, ec)) {
        images.push_back(center_crop(resize_cover(load_image(kodak / name), 512, 384), 512, 384));
      } else {
        Image img(512, 384, 3);
        Rng rng(static_cast<std::uint64_t>(i));
        for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
        images.push_back(std::move(img));
      }
    }
    prompt = model->prompt_ids(512, 384);
    sampling = model->contract().sampling;  // temperature 1, top-k 50, top-p 1
    sampling.max_new_tokens = kNewTokens;
    sampling.stop_ids = {-1};  // no generated id equals -1: every row runs to max_new_tokens
    for (int i = 0; i < kImages; ++i) {
      GenerationRequest r;
      r.prompt = prompt;
      r.image = i;
      r.num_samples = kRollouts;
      r.seed = derive_seed(0, "bench-rollout", static_cast<std::uint64_t>(i));
      requests.push_back(std::move(r));
    }
  }

  std::vector<const Image*> image_ptrs() const {
    std::vector<const Image*> p;
    for (const auto& im : images) p.push_back(&im);
    return p;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kFloat32).contiguous().view({-1});
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

void write_parity(const fs::path& dir) {
  auto& f = fixture();
  auto& policy = f.model->policy();
  torch::NoGradGuard ng;
  save_model_dir(dir / "model", policy, f.md.config, f.md.contract, f.md.tokenizer_json);
  save_image(dir / "image0.png", f.images[0]);
  const auto vis = policy.encode_images(policy.preprocess({&f.images[0]}));
  const PromptBatch prompts{{f.prompt}, {0}};
  KVCache cache;
  const auto logits = policy.prefill(prompts, vis, cache);
  GenerationRequest req = f.requests[0];
  req.image = 0;
  req.num_samples = 1;
  const auto seq = generate(policy, vis, {req}, f.sampling).at(0);
  CompletionBatch comp;
  comp.tokens = torch::tensor(seq.tokens, torch::kInt64).unsqueeze(0);
  comp.mask = torch::ones_like(comp.tokens, torch::kBool);
  const auto lp = policy.token_logprobs(prompts, vis, comp);
  const nlohmann::json j = {{"prompt", f.prompt},
                            {"visual", to_vector(vis.embeds)},
                            {"prefill_logits", to_vector(logits)},
                            {"completion", seq.tokens},
                            {"generate_logprobs", seq.logprobs},
                            {"token_logprobs", to_vector(lp)},
                            {"parameters", policy.parameter_count()}};
  write_file_atomic(dir / "parity.json", j.dump());
  std::printf("bench_torch_rollout: parity data written to %s\n", dir.c_str());
}

struct Totals {
  double wall = 0, cpu = 0, vision = 0, prefill = 0, decode = 0, sample = 0;
  std::int64_t tokens = 0, batches = 0;

  void report(benchmark::State& state, std::int64_t prompt_tokens) const {
    const double n = static_cast<double>(batches);
    state.counters["batch_s"] = wall / n;
    state.counters["batch_cpu_s"] = cpu / n;
    state.counters["tokens_per_s"] = static_cast<double>(tokens) / wall;
    state.counters["tokens_per_cpu_s"] = static_cast<double>(tokens) / cpu;
    state.counters["tokens_per_batch"] = static_cast<double>(tokens) / n;
    state.counters["vision_s"] = vision / n;
    state.counters["prefill_s"] = prefill / n;
    state.counters["decode_s"] = decode / n;
    state.counters["sample_s"] = sample / n;
    state.counters["prompt_tokens"] = static_cast<double>(prompt_tokens);
    state.counters["loadavg_1m"] = load_1m();
    state.counters["peak_rss_MB"] = peak_rss_mb();
    state.counters["parameters"] = static_cast<double>(fixture().model->policy().parameter_count());
  }
};

void BM_RolloutCached(benchmark::State& state) {
  auto& f = fixture();
  auto& policy = f.model->policy();
  const auto ptrs = f.image_ptrs();
  Totals t;
  for (auto _ : state) {
    policy.clear_prefix_cache();  // as in training, where every optimiser step changes the weights
    const auto w0 = Clock::now();
    const double c0 = cpu_seconds();
    VisualEmbeds vis;
    {
      torch::NoGradGuard ng;
      vis = policy.encode_images(policy.preprocess(ptrs));
    }
    t.vision += since(w0);
    GenerationStats gs;
    const auto seqs = generate(policy, vis, f.requests, f.sampling, nullptr, &gs);
    t.wall += since(w0);
    t.cpu += cpu_seconds() - c0;
    t.prefill += gs.prefill_seconds;
    t.decode += gs.decode_seconds;
    t.sample += gs.sample_seconds;
    t.tokens += gs.generated_tokens;
    ++t.batches;
    for (const auto& s : seqs) {
      if (static_cast<std::int64_t>(s.tokens.size()) != kNewTokens) state.SkipWithError("a row did not run to 64 tokens");
    }
    benchmark::DoNotOptimize(seqs.data());
  }
  t.report(state, static_cast<std::int64_t>(f.prompt.size()));
}

void BM_RolloutRecompute(benchmark::State& state) {
  auto& f = fixture();
  auto& policy = f.model->policy();
  auto& dec = policy.decoder();
  const auto ptrs = f.image_ptrs();
  torch::NoGradGuard ng;
  if (f.cached_tokens.empty()) {  // the reference tokens (untimed)
    const auto vis = policy.encode_images(policy.preprocess(ptrs));
    for (const auto& s : generate(policy, vis, f.requests, f.sampling)) f.cached_tokens.push_back(s.tokens);
  }
  const std::int64_t rows = kImages * kRollouts;
  const std::int64_t P = static_cast<std::int64_t>(f.prompt.size());
  const std::int64_t V = dec.config().vocab_size;
  const auto image_mask = (torch::tensor(f.prompt, torch::kInt64) == policy.image_token_id()).view({1, P, 1});
  Totals t;
  std::int64_t same_rows = 0;
  for (auto _ : state) {
    const auto w0 = Clock::now();
    const double c0 = cpu_seconds();
    const auto vis = policy.encode_images(policy.preprocess(ptrs));
    t.vision += since(w0);
    // Visual embeddings of every row [rows, tokens, D] (row = image*K + sample), spliced in at each step.
    const auto per_row = vis.embeds.view({kImages, -1, vis.embeds.size(1)}).repeat_interleave(kRollouts, 0);
    std::vector<std::uint64_t> rng(rows);
    for (std::int64_t r = 0; r < rows; ++r) rng[r] = derive_seed(f.requests[r / kRollouts].seed, static_cast<std::uint64_t>(r % kRollouts), 0x67656e);
    auto ids = torch::tensor(f.prompt, torch::kInt64).unsqueeze(0).repeat({rows, 1});  // [rows, L]
    std::vector<std::vector<std::int64_t>> out(rows);
    for (std::int64_t step = 0; step < kNewTokens; ++step) {
      const auto tf = Clock::now();
      const auto L = ids.size(1);
      DecoderChunk chunk;
      auto emb = dec.embed(ids);
      const auto mask = torch::cat({image_mask, torch::zeros({1, L - P, 1}, torch::kBool)}, 1).expand_as(emb);
      chunk.embeds = emb.masked_scatter(mask, per_row);
      chunk.positions = torch::arange(L, torch::kInt64).unsqueeze(0).expand({rows, L});
      chunk.valid = torch::ones({rows, L}, torch::kBool);
      KVSegment scratch;
      const auto hidden = dec.forward(chunk, nullptr, scratch);
      const auto logits = dec.logits(hidden.select(1, L - 1)).contiguous();  // [rows, V]
      (step == 0 ? t.prefill : t.decode) += since(tf);
      const auto ts = Clock::now();
      const auto lse = torch::logsumexp(logits, -1);
      const float* lp = logits.data_ptr<float>();
      std::vector<std::int64_t> next(rows);
      for (std::int64_t r = 0; r < rows; ++r) {
        next[r] = sample_token(lp + r * V, V, f.sampling, &rng[r]);
        out[r].push_back(next[r]);
      }
      benchmark::DoNotOptimize(lse.data_ptr());
      ids = torch::cat({ids, torch::tensor(next, torch::kInt64).unsqueeze(1)}, 1);
      t.sample += since(ts);
      t.tokens += rows;
    }
    t.wall += since(w0);
    t.cpu += cpu_seconds() - c0;
    ++t.batches;
    same_rows = 0;
    for (std::int64_t r = 0; r < rows; ++r) same_rows += out[r] == f.cached_tokens[r] ? 1 : 0;
  }
  t.report(state, static_cast<std::int64_t>(f.prompt.size()));
  state.counters["rows_same_as_cached"] = static_cast<double>(same_rows);
}

}  // namespace

BENCHMARK(BM_RolloutCached)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->MinTime(4.0);
BENCHMARK(BM_RolloutRecompute)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime()->MinTime(1.0);

int main(int argc, char** argv) {
  int threads = 0;
  if (const char* t = std::getenv("HAWKEYE_BENCH_THREADS")) threads = std::atoi(t);
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else if (std::strncmp(argv[i], "--config=", 9) == 0) g_config_arg = argv[i] + 9;
    else rest.push_back(argv[i]);
  }
  const int used = apply_threads(threads);
  benchmark::AddCustomContext("threads", std::to_string(used));
  benchmark::AddCustomContext("libtorch", torch_version());
  benchmark::AddCustomContext("loadavg_1m_at_start", std::to_string(load_1m()));
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  try {
    if (const char* parity = std::getenv("HAWKEYE_BENCH_PARITY")) {
      write_parity(parity);
      return 0;
    }
    benchmark::RunSpecifiedBenchmarks();
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_torch_rollout: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}
