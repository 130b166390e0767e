// Classical metrics: hawkeye vs OpenCV's cv::quality on the same images, in the same run.
//
//   cmake --build build --target bench_metrics && ./build/bench/bench_metrics --benchmark_min_time=0.5
//
// Sizes: 512x384 (TID2013 I08, reference and distorted) and 1920x1080 (kodim01 resized with bicubic
// interpolation; distorted = JPEG quality 20 of it); BRISQUE also at 1080x800 (size 2), pyiqa's anchor. The second argument is the thread count given to
// both libraries (cv::setNumThreads). Models are loaded once, outside the timed loop, for both.
// Not the same work everywhere: OpenCV's SSIM and GMSD score the 3 colour channels, hawkeye's default
// scores MATLAB luma (one plane); hawkeye_rgb runs hawkeye's per-channel variant for a like-for-like time.
#include <benchmark/benchmark.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/quality.hpp>

#include "hawkeye/image/io.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/metrics/no_reference.h"
#include "image/cv_bridge.h"

using namespace hawkeye;

namespace {

struct Pair {
  Image ref, dist;
  cv::Mat ref_bgr, dist_bgr;
};

cv::Mat to_bgr(const Image& img) {
  cv::Mat bgr;
  cv::cvtColor(as_mat(img), bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

// kodim01 resized (bicubic) as the reference; its JPEG at quality 20 as the distorted image.
Pair resized_pair(int width, int height) {
  Pair p;
  const Image src = load_image(HAWKEYE_DATA_DIR "/kodak/kodim01.png");
  cv::Mat m;
  cv::resize(as_mat(src), m, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  p.ref = from_mat(m);
  p.dist = decode_image(encode_image(p.ref, "jpeg", 20));
  p.ref_bgr = to_bgr(p.ref);
  p.dist_bgr = to_bgr(p.dist);
  return p;
}

const Pair& pair_of(int size) {
  static const Pair small = [] {
    Pair p;
    p.ref = load_image(HAWKEYE_FIXTURES "/tid2013_pyiqa_calibra/ref_dir/I08.bmp");
    p.dist = load_image(HAWKEYE_FIXTURES "/tid2013_pyiqa_calibra/dist_dir/I08.bmp");
    p.ref_bgr = to_bgr(p.ref);
    p.dist_bgr = to_bgr(p.dist);
    return p;
  }();
  static const Pair large = resized_pair(1920, 1080);
  // ~1080x800, the size of pyiqa's published CPU anchor for BRISQUE (0.118 s/image).
  static const Pair anchor = resized_pair(1080, 800);
  return size == 0 ? small : size == 1 ? large : anchor;
}

void setup(benchmark::State& state) {
  cv::setNumThreads(static_cast<int>(state.range(1)));
  const Pair& p = pair_of(static_cast<int>(state.range(0)));
  state.SetLabel(std::to_string(p.ref.width) + "x" + std::to_string(p.ref.height) + " threads:" + std::to_string(state.range(1)));
}

const Brisque& brisque_model() {
  static const Brisque b = Brisque::load();
  return b;
}

const cv::Ptr<cv::quality::QualityBRISQUE>& opencv_brisque() {
  static const cv::Ptr<cv::quality::QualityBRISQUE> b =
      cv::quality::QualityBRISQUE::create(Brisque::kDefaultModel, Brisque::kDefaultRange);
  return b;
}

#define PAIR_BENCH(name, expr)                                  \
  void name(benchmark::State& state) {                          \
    setup(state);                                               \
    const Pair& p = pair_of(static_cast<int>(state.range(0)));  \
    for (auto _ : state) benchmark::DoNotOptimize(expr);        \
  }                                                             \
  BENCHMARK(name)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond)

PAIR_BENCH(psnr_hawkeye, psnr(p.ref, p.dist));
PAIR_BENCH(psnr_opencv, cv::quality::QualityPSNR::compute(p.ref_bgr, p.dist_bgr, cv::noArray()));
PAIR_BENCH(ssim_hawkeye, ssim(p.ref, p.dist));
PAIR_BENCH(ssim_hawkeye_rgb, ssim(p.ref, p.dist, {FrColour::channels}));
PAIR_BENCH(ssim_opencv, cv::quality::QualitySSIM::compute(p.ref_bgr, p.dist_bgr, cv::noArray()));
PAIR_BENCH(gmsd_hawkeye, gmsd(p.ref, p.dist));
PAIR_BENCH(gmsd_hawkeye_rgb, gmsd(p.ref, p.dist, {FrColour::channels}));
PAIR_BENCH(gmsd_opencv, cv::quality::QualityGMSD::compute(p.ref_bgr, p.dist_bgr, cv::noArray()));
PAIR_BENCH(ms_ssim_hawkeye, ms_ssim(p.ref, p.dist));
PAIR_BENCH(brisque_hawkeye, brisque_model().compute(p.dist))->Args({2, 1})->Args({2, 2});
PAIR_BENCH(brisque_opencv, opencv_brisque()->compute(p.dist_bgr))->Args({2, 1})->Args({2, 2});

// Cached reference: the reference's statistics computed once, many distorted images scored.
void ssim_cached_hawkeye(benchmark::State& state) {
  setup(state);
  const Pair& p = pair_of(static_cast<int>(state.range(0)));
  const Ssim s(p.ref);
  for (auto _ : state) benchmark::DoNotOptimize(s.compute(p.dist));
}
BENCHMARK(ssim_cached_hawkeye)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);

void ssim_cached_opencv(benchmark::State& state) {
  setup(state);
  const Pair& p = pair_of(static_cast<int>(state.range(0)));
  const auto s = cv::quality::QualitySSIM::create(p.ref_bgr);
  for (auto _ : state) benchmark::DoNotOptimize(s->compute(p.dist_bgr));
}
BENCHMARK(ssim_cached_opencv)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);

void niqe_hawkeye(benchmark::State& state) {
  setup(state);
  static const Niqe model = Niqe::load(HAWKEYE_SOURCE_DIR "/resources/niqe_image_params.mat");
  const Pair& p = pair_of(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(model.compute(p.dist));
}
BENCHMARK(niqe_hawkeye)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
