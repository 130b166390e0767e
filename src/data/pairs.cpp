#include "hawkeye/data/pairs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "data/batch.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/progress.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"

namespace hawkeye {

std::string Pair::degradation() const {
  std::string s(perception_kind_name(first));
  if (second) s += "+" + std::string(perception_kind_name(*second));
  return s;
}

namespace {

double checked_similarity(const PairOptions& o, const Image& a, const Image& b) {
  const double s = o.similarity(a, b);
  // +inf is a legal "identical" (PSNR); NaN is not.
  require(!std::isnan(s), ErrorCode::numerical, "perceptibility test: " + o.metric + " returned NaN");
  return s;
}

}  // namespace

Pair build_pair(const Image& original, std::uint64_t seed, const PairOptions& o) {
  require(static_cast<bool>(o.similarity), ErrorCode::invalid_argument, "build_pair: no similarity metric given");
  require(!o.kinds.empty(), ErrorCode::invalid_argument, "build_pair: no stage-1 degradations to choose from");
  require(!original.empty(), ErrorCode::invalid_argument, "build_pair: empty image");
  const Image rgb = original.channels == 3 ? original : grey_to_rgb(original);  // the twin is always RGB
  Rng rng(seed);
  Pair p;
  p.first = o.kinds[rng.below(o.kinds.size())];
  p.twin = apply_perception(rgb, p.first, o.stage1, derive_seed(seed, 1));
  p.first_similarity = p.similarity = checked_similarity(o, rgb, p.twin);
  p.perceptible = p.similarity < o.threshold;
  if (p.perceptible) return p;
  // Stage 2: the other kinds in a seeded order, each on top of the stage-1 twin; the first perceptible wins.
  std::vector<PerceptionKind> others;
  for (PerceptionKind k : kPerceptionKinds)
    if (k != p.first) others.push_back(k);
  for (std::size_t i = others.size(); i > 1; --i) std::swap(others[i - 1], others[rng.below(i)]);
  Image best;
  double best_sim = 0;
  PerceptionKind best_kind = others.front();
  for (PerceptionKind k : others) {
    Image t = apply_perception(p.twin, k, o.stage2, derive_seed(seed, 2, static_cast<std::uint64_t>(k)));
    const double s = checked_similarity(o, rgb, t);
    if (best.empty() || s < best_sim) {
      best = std::move(t);
      best_sim = s;
      best_kind = k;
    }
    if (s < o.threshold) break;
  }
  p.twin = std::move(best);
  p.second = best_kind;
  p.similarity = best_sim;
  p.perceptible = best_sim < o.threshold;
  return p;
}

PairsResult build_pairs(const PairsOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  require(!opt.out_dir.empty(), ErrorCode::invalid_argument, "pairs: no output folder given");
  Manifest in = read_manifest(opt.manifest);
  const std::string ext = opt.manifest.extension().string();
  const std::filesystem::path out_manifest =
      opt.out_dir / (opt.output_name.empty() ? opt.manifest.stem().string() + ".pairs" + ext : opt.output_name);
  std::error_code ec;
  require(opt.force || !std::filesystem::exists(out_manifest, ec), ErrorCode::invalid_argument,
          out_manifest.string() + ": exists (use --force to overwrite)");

  // Twin names: the image's stem, made unique in manifest order ("x", "x-1", ...: a suffix already taken by
  // another image's own stem, as x.jpg beside x-1.png, is skipped).
  std::vector<std::string> twin_names(in.rows.size());
  std::set<std::string> taken;
  for (std::size_t i = 0; i < in.rows.size(); ++i) {
    const std::string stem = std::filesystem::path(in.rows[i].image).stem().string();
    std::string name = stem;
    for (int n = 1; taken.count(name); ++n) name = stem + "-" + std::to_string(n);
    taken.insert(name);
    twin_names[i] = "twins/" + name + ".png";
  }
  // Nothing the user gave is overwritten: a twin may never land on an input image or the manifest (not even
  // with --force, as the inputs are still being read), and replaces an existing file only with --force.
  // Checked before any folder is made or any image is decoded.
  auto canonical = [](const std::filesystem::path& p) {
    std::error_code e;
    std::filesystem::path c = std::filesystem::weakly_canonical(p, e);
    return e ? std::filesystem::absolute(p).lexically_normal() : c;
  };
  std::set<std::filesystem::path> inputs = {canonical(opt.manifest)};
  require(!inputs.count(canonical(out_manifest)), ErrorCode::invalid_argument,
          out_manifest.string() + ": is the input manifest; choose another --out or --name");
  for (const ManifestRow& row : in.rows) {
    inputs.insert(canonical(in.image_path(row)));
    if (!row.reference.empty()) inputs.insert(canonical(in.root / row.reference));
  }
  for (const std::string& name : twin_names) {
    const std::filesystem::path twin = opt.out_dir / name;
    require(!inputs.count(canonical(twin)), ErrorCode::invalid_argument,
            twin.string() + ": is one of the inputs; choose another --out");
    require(opt.force || !std::filesystem::exists(twin, ec), ErrorCode::invalid_argument,
            twin.string() + ": exists (use --force to overwrite, or choose another --out)");
  }
  std::filesystem::create_directories(opt.out_dir / "twins", ec);
  if (ec) throw Error(ErrorCode::io, opt.out_dir.string() + ": cannot create folders: " + ec.message());
  const std::filesystem::path out_abs = std::filesystem::absolute(opt.out_dir);

  std::vector<Pair> pairs(in.rows.size());
  const int threads = resolve_thread_count(opt.threads);
  const SerialOpenCvScope serial_opencv;
  Progress progress("pairs", in.rows.size(), opt.progress);
  parallel_for(
      in.rows.size(), threads,
      [&](std::size_t i, int) {
        const ManifestRow& row = in.rows[i];
        Image img;
        try {
          img = load_image(in.image_path(row));
        } catch (const Error& e) {
          throw Error(e.code(), in.where(row) + ": " + e.what());
        }
        Pair p = build_pair(img, derive_seed(opt.seed, "pair|" + row.image), opt.pair);
        write_file_fast(opt.out_dir / twin_names[i], encode_image(p.twin, "png"));
        p.twin = Image();  // keep only the record
        pairs[i] = std::move(p);
        progress.advance();
      });
  progress.finish();

  PairsResult result;
  Manifest out = in;
  out.root = opt.out_dir;
  out.source = out_manifest.string();
  auto rebase = [&](const std::string& p) -> std::string {
    if (p.empty()) return p;
    const std::filesystem::path abs = std::filesystem::absolute(in.root / p).lexically_normal();
    return std::filesystem::path(p).is_absolute() ? p : abs.lexically_relative(out_abs).generic_string();
  };
  for (std::size_t i = 0; i < out.rows.size(); ++i) {
    ManifestRow& r = out.rows[i];
    r.image = rebase(r.image);
    r.reference = rebase(r.reference);
    const Pair& p = pairs[i];
    r.extra["twin"] = twin_names[i];
    r.extra["twin_degradation"] = p.degradation();
    r.extra["twin_" + opt.pair.metric] = std::isfinite(p.similarity) ? nlohmann::ordered_json(p.similarity) : nullptr;
    r.extra["twin_perceptible"] = p.perceptible;
    result.redegraded += p.second ? 1 : 0;
    result.imperceptible += p.perceptible ? 0 : 1;
  }
  write_manifest(out_manifest, out);
  result.rows = out.rows.size();
  result.manifest = out_manifest;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace hawkeye
