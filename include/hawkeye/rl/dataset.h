// Training data for the trainers: rows of a manifest with their label on [1, 5], the warm-start text
// (description) and the degraded twin for the perception loss; a seeded, stateless order of batches
// (the batch of step s is a function of (seed, s), so resuming and sharding across ranks are exact);
// parallel image loading with seeded augmentation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hawkeye/image/image.h"
#include "hawkeye/image/io.h"

namespace hawkeye::rl {

struct TrainSample {
  std::filesystem::path image;
  std::filesystem::path twin;   // empty when the row has none
  double label = 0;             // on [1, 5], 5 = best (rounded to two decimals, as the reference does)
  std::string description;      // warm-start think text ("" when absent)
  std::string id;               // identity for seeds: the image path as written in the manifest
  std::string type_name;        // distortion type when the manifest has one
  int type_id = 0;              // KADID type id (1..25) when the manifest has one, else 0
  int level = 0;                // distortion level (1..5) when the manifest has one, else 0
  std::string where;            // file:line for messages
};

struct DatasetOptions {
  bool require_twin = false;          // every row needs a twin (perception loss on, no on-the-fly pairs)
  bool require_description = false;   // every row needs a description (warm start)
  std::size_t max_rows = 0;           // 0 = all; else an evenly spaced subset (validation)
};

// Reads a manifest (CSV or JSONL). Errors: invalid_argument naming file:line for a row that lacks what the
// options require (e.g. "train.jsonl:12: no twin; build twins with `hawkeye pairs` or set pairs.on_the_fly").
std::vector<TrainSample> load_samples(const std::filesystem::path& manifest, const DatasetOptions& options = {});

// Indices of global step `step` of size `batch`: positions [step*batch, (step+1)*batch) of an endless
// sequence of epochs, each a permutation of [0, n) seeded by (seed, epoch). rank/world select a disjoint
// contiguous slice of the global batch (batch must be a multiple of world).
std::vector<std::size_t> batch_indices(std::size_t n, std::uint64_t seed, std::int64_t step, std::int64_t batch,
                                       int rank = 0, int world = 1);
// Fractional epoch reached after `step` steps.
double epoch_at(std::size_t n, std::int64_t step, std::int64_t batch);

struct Augment {
  int crop_width = 0, crop_height = 0;  // 0 = no crop (whole image)
  bool hflip = false;
  bool vflip = false;  // random vertical flips
  bool rot90 = false;  // random quarter turn (clockwise), after the flips: a W x H crop becomes H x W
};

// Loads images in parallel (threads = 0: all cores). Augmentation is seeded by (seed, step, index in batch).
// Twins get the same crop, flips and turn as their originals. Each transform draws its coin only when it is
// enabled, so enabling one leaves the crops of an existing config unchanged. Errors from load_image propagate (naming the file).
std::vector<Image> load_batch(const std::vector<std::filesystem::path>& paths, const ImageLimits& limits, int threads);
void augment_batch(std::vector<Image>& images, std::vector<Image>* twins, const Augment& a, std::uint64_t seed,
                   std::int64_t step);

}  // namespace hawkeye::rl
