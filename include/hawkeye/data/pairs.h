// Q-Hawkeye's perception pairs (docs/method.md section 5.1): every training image gets a degraded twin
// of the same size for the implicit perception loss.
//   Stage 1: one degradation drawn uniformly (by seed) from noise, blur, JPEG, darken, stage-1 strength.
//   Stage 2: an automatic perceptibility test replaces the reference's GPT-4o + human filter: a full-reference
//   similarity between original and twin (SSIM by default) at or above a threshold means "imperceptible".
//   Such a twin gets a second, different degradation at stage-2 strength, applied on top of the stage-1 twin
//   (as the reference's Second_Degradation.py does in place). The other kinds are tried in a seeded order
//   until one makes the pair perceptible; if none does, the most dissimilar result is kept and flagged.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hawkeye/image/distortions/perception.h"
#include "hawkeye/image/image.h"

namespace hawkeye {

// Similarity of a twin to its original: higher = more alike (SSIM, PSNR in dB, ...).
using SimilarityFn = std::function<double(const Image& original, const Image& twin)>;

struct PairOptions {
  PerceptionParams stage1 = perception_stage1();
  PerceptionParams stage2 = perception_stage2();
  std::vector<PerceptionKind> kinds = {kPerceptionKinds.begin(), kPerceptionKinds.end()};  // stage-1 draw
  SimilarityFn similarity;          // required (the data layer does not pick a metric for you)
  std::string metric = "ssim";      // name recorded in manifests
  double threshold = 0.90;          // similarity >= threshold: imperceptible (SSIM default, docs/data.md)
};

struct Pair {
  Image twin;
  PerceptionKind first = PerceptionKind::noise;
  std::optional<PerceptionKind> second;  // set when stage 2 ran
  double first_similarity = 0;           // original vs stage-1 twin
  double similarity = 0;                 // original vs final twin
  bool perceptible = true;               // final similarity < threshold
  std::string degradation() const;       // "blur" or "blur+noise"
};

// Errors: invalid_argument (no similarity function, empty kinds, empty image, non-finite similarity).
Pair build_pair(const Image& original, std::uint64_t seed, const PairOptions& options);

struct PairsOptions {
  std::filesystem::path manifest;  // input (.csv / .jsonl)
  std::filesystem::path out_dir;   // twins/ and the output manifest go here
  std::string output_name;         // default: "<input stem>.pairs<ext>"
  PairOptions pair;
  std::uint64_t seed = 0;
  int threads = 0;
  bool progress = true;
  bool force = false;              // overwrite an existing output manifest and twins (never an input)
};

struct PairsResult {
  std::size_t rows = 0;
  std::size_t redegraded = 0;      // stage 2 ran
  std::size_t imperceptible = 0;   // still imperceptible after stage 2
  std::filesystem::path manifest;
  double seconds = 0;
};

// Builds a twin for every row of a manifest: twins/<stem>.png, and a copy of the manifest (paths rewritten
// relative to out_dir) with the extra columns twin, twin_degradation, twin_<metric>, twin_perceptible.
PairsResult build_pairs(const PairsOptions& options);

}  // namespace hawkeye
