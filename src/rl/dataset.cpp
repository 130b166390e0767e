#include "hawkeye/rl/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hawkeye/core/error.h"
#include "hawkeye/core/parallel.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/image/ops.h"

namespace hawkeye::rl {

std::vector<TrainSample> load_samples(const std::filesystem::path& path, const DatasetOptions& options) {
  const Manifest m = read_manifest(path);
  std::vector<TrainSample> out;
  out.reserve(m.rows.size());
  for (const auto& row : m.rows) {
    TrainSample s;
    s.image = m.image_path(row);
    s.label = std::round(m.label(row) * 100.0) / 100.0;
    s.id = row.image;
    s.where = m.where(row);
    s.description = extra_text(row, "description");
    s.type_name = extra_text(row, "type_name");
    if (auto lv = extra_number(row, "level")) s.level = static_cast<int>(*lv);
    if (auto t = extra_number(row, "type_id")) s.type_id = static_cast<int>(*t);
    const std::string twin = extra_text(row, "twin");
    if (!twin.empty()) s.twin = std::filesystem::path(twin).is_absolute() ? std::filesystem::path(twin) : m.root / twin;
    if (!std::isfinite(s.label)) throw Error(ErrorCode::invalid_argument, s.where + ": the score is not a number");
    if (options.require_twin && s.twin.empty()) {
      throw Error(ErrorCode::invalid_argument,
                  s.where + ": no twin (degraded copy) for the perception loss; build twins with `hawkeye pairs`, "
                            "set pairs.on_the_fly = true, or switch the perception loss off (loss.perception = false)");
    }
    if (options.require_description && s.description.empty()) {
      throw Error(ErrorCode::invalid_argument, s.where + ": no description for the warm-start target text");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) throw Error(ErrorCode::invalid_argument, path.string() + ": the manifest has no rows");
  if (options.max_rows > 0 && out.size() > options.max_rows) {
    std::vector<TrainSample> sub;
    for (std::size_t i = 0; i < options.max_rows; ++i) sub.push_back(out[i * out.size() / options.max_rows]);
    out = std::move(sub);
  }
  return out;
}

static std::vector<std::size_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  Rng rng(derive_seed(seed, "epoch", static_cast<std::uint64_t>(epoch)));
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
  return p;
}

std::vector<std::size_t> batch_indices(std::size_t n, std::uint64_t seed, std::int64_t step, std::int64_t batch, int rank,
                                       int world) {
  if (n == 0 || batch <= 0 || world <= 0 || batch % world != 0 || rank < 0 || rank >= world) {
    throw Error(ErrorCode::invalid_argument, "batch_indices: batch must be a positive multiple of the world size");
  }
  const std::int64_t per = batch / world;
  std::vector<std::size_t> out;
  std::int64_t cached_epoch = -1;
  std::vector<std::size_t> perm;
  for (std::int64_t k = 0; k < per; ++k) {
    const std::uint64_t pos = static_cast<std::uint64_t>(step) * batch + rank * per + k;
    const auto epoch = static_cast<std::int64_t>(pos / n);
    if (epoch != cached_epoch) {
      perm = epoch_permutation(n, seed, epoch);
      cached_epoch = epoch;
    }
    out.push_back(perm[pos % n]);
  }
  return out;
}

double epoch_at(std::size_t n, std::int64_t step, std::int64_t batch) {
  return n == 0 ? 0.0 : static_cast<double>(step) * batch / static_cast<double>(n);
}

std::vector<Image> load_batch(const std::vector<std::filesystem::path>& paths, const ImageLimits& limits, int threads) {
  std::vector<Image> out(paths.size());
  // The first image that fails stops the batch: its error is the caller's (a training batch needs every image).
  parallel_for(paths.size(), threads, [&](std::size_t i, int) { out[i] = load_image(paths[i], limits); });
  return out;
}

void augment_batch(std::vector<Image>& images, std::vector<Image>* twins, const Augment& a, std::uint64_t seed, std::int64_t step) {
  for (std::size_t i = 0; i < images.size(); ++i) {
    Rng rng(derive_seed(seed, "augment", static_cast<std::uint64_t>(step), i));
    Image& img = images[i];
    Image* twin = (twins && i < twins->size() && !(*twins)[i].empty()) ? &(*twins)[i] : nullptr;
    if (twin && (twin->width != img.width || twin->height != img.height)) {
      throw Error(ErrorCode::invalid_argument, "a twin must have its original's exact size (" + std::to_string(img.width) + "x" +
                                                   std::to_string(img.height) + " vs " + std::to_string(twin->width) + "x" +
                                                   std::to_string(twin->height) + ")");
    }
    int x = 0, y = 0, w = img.width, h = img.height;
    if (a.crop_width > 0 && a.crop_height > 0 && (img.width > a.crop_width || img.height > a.crop_height)) {
      w = std::min(a.crop_width, img.width);
      h = std::min(a.crop_height, img.height);
      x = static_cast<int>(rng.below(static_cast<std::uint64_t>(img.width - w + 1)));
      y = static_cast<int>(rng.below(static_cast<std::uint64_t>(img.height - h + 1)));
    }
    const bool flip = a.hflip && rng.below(2) == 1;
    const bool vflip = a.vflip && rng.below(2) == 1;
    const bool turn = a.rot90 && rng.below(2) == 1;
    auto apply = [&](Image& im) {
      if (w != im.width || h != im.height) im = crop(im, x, y, w, h);
      if (flip) im = flip_horizontal(im);
      if (vflip) im = flip_vertical(im);
      if (turn) im = rotate_clockwise(im);
    };
    apply(img);
    if (twin) apply(*twin);
  }
}

}  // namespace hawkeye::rl
