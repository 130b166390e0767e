// Per-type cost of the KADID distortions and Q-Hawkeye degradations at KADID scale (512x384), and the PNG
// encode every synthetic image pays. Run: build-*/bench/bench_data_distortions --benchmark_min_time=0.5
// One "iteration" = one image: the five levels of a type are cycled. OpenCV runs single-threaded, as inside
// `hawkeye synth`, whose worker threads are the parallelism (so CPU time is the whole cost of an image).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/distortions/perception.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"

using namespace hawkeye;

namespace {

const Image& reference() {
  static const Image img =
      resize_cover(load_image(std::filesystem::path(HAWKEYE_FIXTURES) / "kodak" / "kodim05.png"), 512, 384);
  return img;
}

void BM_Kadid(benchmark::State& state) {
  const int type = static_cast<int>(state.range(0));
  const Image& ref = reference();
  int level = 0;
  for (auto _ : state) {
    const int l = level++ % 5 + 1;
    benchmark::DoNotOptimize(apply_kadid(ref, type, l, kadid_seed(0, "kodim05", type, l)));
  }
  state.SetLabel(std::string(kadid_distortion(type).name));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Kadid)->DenseRange(1, 25)->Unit(benchmark::kMillisecond);

void BM_Perception(benchmark::State& state) {
  const PerceptionKind kind = kPerceptionKinds[static_cast<std::size_t>(state.range(0))];
  const Image& ref = reference();
  std::uint64_t seed = 0;
  for (auto _ : state) benchmark::DoNotOptimize(apply_perception(ref, kind, perception_stage1(), seed++));
  state.SetLabel(std::string(perception_kind_name(kind)));
}
BENCHMARK(BM_Perception)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

void BM_EncodePng(benchmark::State& state) {
  const Image out = apply_kadid(reference(), 11, 3, 1);  // a noisy image: the costly case for deflate
  for (auto _ : state) benchmark::DoNotOptimize(encode_image(out, "png"));
}
BENCHMARK(BM_EncodePng)->Unit(benchmark::kMillisecond);

void BM_PrepareReference(benchmark::State& state) {
  const Image full = load_image(std::filesystem::path(HAWKEYE_FIXTURES) / "kodak" / "kodim05.png");
  for (auto _ : state) benchmark::DoNotOptimize(resize_cover(full, 512, 384));
}
BENCHMARK(BM_PrepareReference)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  hawkeye::apply_base_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
