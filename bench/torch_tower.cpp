// The vision tower of hawkeye-tiny alone: MobileNetV2's 17 blocks at 512x384 (the shipped model's taps
// 0,2,5,9,12,15,16), random weights (the time does not depend on the values). Prints the best of N runs in ms
// per batch, without gradients (scoring, rollouts) and, for comparison, with them (a training step's forward).
//
// usage: bench_torch_tower [threads=2] [runs=7] [rounds=3] [images=4] [backward=0] [width=512] [height=384]
// (images: the batch; scoring now runs the tower one image at a time. backward=1: "with grad" includes the
//  backward pass of a training step through the taps)
// Compare two builds by running each one's binary in alternation (bench/README.md, section 5).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "hawkeye/model/mobilenet.h"

using hawkeye::model::MobileNetV2Impl;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  MobileNetV2Impl tower(17, /*with_head=*/false);
  const int images = argc > 4 ? std::atoi(argv[4]) : 4;
  const bool backward = argc > 5 && std::atoi(argv[5]) != 0;
  const int width = argc > 6 ? std::atoi(argv[6]) : 512, height = argc > 7 ? std::atoi(argv[7]) : 384;
  const auto x = torch::rand({images, 3, height, width}) * 2 - 1;
  const std::vector<int> taps{0, 2, 5, 9, 12, 15, 16};
  auto time = [&](bool grad) {
    double best = 1e30;
    for (int r = 0; r < runs; ++r) {
      torch::AutoGradMode mode(grad);
      const auto t0 = std::chrono::steady_clock::now();
      auto maps = tower.features(x, taps);
      if (grad && backward) {
        torch::Tensor loss = torch::zeros({});
        for (const auto& m : maps) loss = loss + m.mean();
        loss.backward();
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best * 1e3;
  };
  std::printf("threads %d, best of %d, ms per %d images at %dx%d\n", threads, runs, images, width, height);
  for (int round = 0; round < rounds; ++round) {
    const double off = time(false);
    const double on = time(true);
    std::printf("round %d  no grad %.1f  with grad %.1f\n", round, off, on);
  }
  return 0;
}
