// Q-Hawkeye perception pairs with the automatic perceptibility test (SSIM from the metrics layer).
#include <gtest/gtest.h>

#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/data/pairs.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "hawkeye/metrics/full_reference.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

PairOptions ssim_options() {
  PairOptions o;
  o.similarity = [](const Image& a, const Image& b) { return ssim(a, b); };
  o.metric = "ssim";
  o.threshold = 0.90;
  return o;
}

// A manifest `root`/set.jsonl of small copies of one photograph under the given names (relative to root).
void write_photo_manifest(const std::filesystem::path& root, const std::vector<std::string>& names, int w, int h) {
  Manifest m;
  m.scale = ScoreScale{1, 5, false};
  for (const std::string& name : names) {
    std::filesystem::create_directories((root / name).parent_path());
    save_image(root / name, resize_cover(load_image(test::fixtures() / "kodak" / "kodim03.png"), w, h));
    ManifestRow r;
    r.image = name;
    r.score = 3;
    m.rows.push_back(r);
  }
  write_manifest(root / "set.jsonl", m);
}

}  // namespace

TEST(Pairs, TwinHasTheOriginalsSizeAndIsSeeded) {
  const Image img = resize_cover(load_image(test::fixtures() / "kodak" / "kodim08.png"), 160, 120);
  const PairOptions o = ssim_options();
  std::set<PerceptionKind> drawn;
  for (std::uint64_t seed = 0; seed < 12; ++seed) {
    const Pair p = build_pair(img, seed, o);
    EXPECT_EQ(p.twin.width, img.width);
    EXPECT_EQ(p.twin.height, img.height);
    EXPECT_EQ(p.twin.channels, 3);
    EXPECT_EQ(p.twin, build_pair(img, seed, o).twin);
    EXPECT_DOUBLE_EQ(p.similarity, ssim(img, p.twin));
    EXPECT_EQ(p.perceptible, p.similarity < o.threshold);
    drawn.insert(p.first);
  }
  EXPECT_GE(drawn.size(), 3u);  // the stage-1 kind is drawn from all four
}

TEST(Pairs, PerceptibilityFilterRedegradesAnInvisiblePair) {
  // Blur leaves a flat image unchanged: SSIM 1, an invisible pair. It must get a second, different,
  // stage-2 degradation that makes it visible.
  const Image flat(128, 96, 3, 120);
  PairOptions o = ssim_options();
  o.kinds = {PerceptionKind::blur};
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    const Pair p = build_pair(flat, seed, o);
    EXPECT_EQ(p.first, PerceptionKind::blur);
    EXPECT_DOUBLE_EQ(p.first_similarity, 1.0);
    ASSERT_TRUE(p.second.has_value());
    EXPECT_NE(*p.second, PerceptionKind::blur);
    EXPECT_LT(p.similarity, o.threshold);
    EXPECT_TRUE(p.perceptible);
    EXPECT_EQ(p.twin.width, 128);
    EXPECT_EQ(p.degradation(), "blur+" + std::string(perception_kind_name(*p.second)));
  }
  // A visible stage-1 pair is left alone.
  const Image photo = resize_cover(load_image(test::fixtures() / "kodak" / "kodim08.png"), 160, 120);
  o.kinds = {PerceptionKind::noise};
  const Pair visible = build_pair(photo, 1, o);
  EXPECT_FALSE(visible.second.has_value());
  EXPECT_LT(visible.first_similarity, 0.9);
}

TEST(Pairs, StillInvisibleAfterStageTwoIsFlagged) {
  const Image flat(64, 64, 3, 120);
  PairOptions o = ssim_options();
  o.kinds = {PerceptionKind::blur};
  o.stage2.noise_sigma = 0;
  o.stage2.darken_factor = 1.0;
  const Pair p = build_pair(flat, 3, o);
  ASSERT_TRUE(p.second.has_value());
  EXPECT_FALSE(p.perceptible);
  EXPECT_GE(p.similarity, o.threshold);
}

TEST(Pairs, NeedsAMetricAndKinds) {
  const Image img(64, 64, 3, 10);
  PairOptions o;
  EXPECT_THROW(build_pair(img, 0, o), Error);
  o = ssim_options();
  o.kinds.clear();
  EXPECT_THROW(build_pair(img, 0, o), Error);
  EXPECT_THROW(build_pair(Image(), 0, ssim_options()), Error);
}

TEST(Pairs, ManifestGetsATwinColumnWithRebasedPaths) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "in" / "img");
  Manifest m;
  m.scale = ScoreScale{0, 100, true};
  const char* photos[] = {"kodim03.png", "kodim08.png", "kodim12.png"};
  for (int i = 0; i < 3; ++i) {
    const std::string name = "img/p" + std::to_string(i) + ".png";
    save_image(dir.path() / "in" / name, resize_cover(load_image(test::fixtures() / "kodak" / photos[i]), 80, 60));
    ManifestRow r;
    r.image = name;
    r.score = 40.0 + i;
    r.extra["note"] = "row" + std::to_string(i);
    m.rows.push_back(r);
  }
  write_manifest(dir.path() / "in" / "set.jsonl", m);
  PairsOptions po;
  po.manifest = dir.path() / "in" / "set.jsonl";
  po.out_dir = dir.path() / "out";
  po.pair = ssim_options();
  po.seed = 4;
  po.threads = 2;
  po.progress = false;
  const PairsResult r = build_pairs(po);
  EXPECT_EQ(r.rows, 3u);
  EXPECT_EQ(r.manifest, dir.path() / "out" / "set.pairs.jsonl");
  const Manifest out = read_manifest(r.manifest);
  ASSERT_EQ(out.rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& row = out.rows[i];
    EXPECT_EQ(row.image, "../in/img/p" + std::to_string(i) + ".png");
    EXPECT_EQ(extra_text(row, "note"), "row" + std::to_string(i));
    const Image orig = load_image(out.image_path(row));
    const Image twin = load_image(out.root / extra_text(row, "twin"));
    EXPECT_EQ(twin.width, orig.width);
    EXPECT_EQ(twin.height, orig.height);
    EXPECT_NEAR(*extra_number(row, "twin_ssim"), ssim(orig, twin), 1e-12);
    EXPECT_FALSE(extra_text(row, "twin_degradation").empty());
    EXPECT_DOUBLE_EQ(row.score, 40.0 + static_cast<double>(i));
  }
  EXPECT_THROW(build_pairs(po), Error);  // exists, no --force
  po.force = true;
  EXPECT_NO_THROW(build_pairs(po));
  // A missing image is named with its manifest line.
  std::filesystem::remove(dir.path() / "in" / "img" / "p1.png");
  po.out_dir = dir.path() / "out2";
  try {
    build_pairs(po);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("set.jsonl:3"), std::string::npos) << e.what();
  }
}

TEST(Pairs, ATwinNeverOverwritesAnInputAndAnExistingFileOnlyWithForce) {
  // Issue "nothing lost" item 1 for `pairs`: the manifest's own folder as --out, with images under twins/.
  test::TempDir dir;
  const std::filesystem::path root = dir.path() / "set";
  write_photo_manifest(root, {"twins/p0.png", "twins/p1.png"}, 64, 48);  // inputs where twins would be written
  const std::string before = read_file(root / "twins" / "p0.png");
  PairsOptions po;
  po.manifest = root / "set.jsonl";
  po.out_dir = root;
  po.pair = ssim_options();
  po.progress = false;
  for (bool force : {false, true}) {
    po.force = force;
    try {
      build_pairs(po);
      ADD_FAILURE() << "a twin was allowed onto an input (force " << force << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
      EXPECT_NE(std::string(e.what()).find("is one of the inputs"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_file(root / "twins" / "p0.png"), before);
  EXPECT_FALSE(std::filesystem::exists(root / "set.pairs.jsonl"));

  // An existing file (not an input) where a twin goes: refused without --force, replaced with it.
  const std::filesystem::path out = dir.path() / "out";
  std::filesystem::create_directories(out / "twins");
  write_file_atomic(out / "twins" / "p0.png", "somebody's file");
  po.out_dir = out;
  po.force = false;
  try {
    build_pairs(po);
    ADD_FAILURE() << "an existing file was overwritten without --force";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exists (use --force"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(out / "twins" / "p0.png"), "somebody's file");
  EXPECT_FALSE(std::filesystem::exists(out / "set.pairs.jsonl"));
  po.force = true;
  EXPECT_EQ(build_pairs(po).rows, 2u);
  EXPECT_EQ(load_image(out / "twins" / "p0.png").width, 64);
}

TEST(Pairs, TwinNamesAreUniqueWhateverTheStemsAndTheInputManifestIsNeverTheOutput) {
  test::TempDir dir;
  const std::filesystem::path root = dir.path() / "set";
  write_photo_manifest(root, {"x.png", "x.jpg", "x-1.png"}, 48, 32);  // the third's stem is the second's suffixed one
  PairsOptions po;
  po.manifest = root / "set.jsonl";
  po.out_dir = dir.path() / "out";
  po.pair = ssim_options();
  po.progress = false;
  build_pairs(po);
  std::set<std::string> twins;
  for (const auto& row : read_manifest(dir.path() / "out" / "set.pairs.jsonl").rows) twins.insert(extra_text(row, "twin"));
  EXPECT_EQ(twins, (std::set<std::string>{"twins/x.png", "twins/x-1.png", "twins/x-1-1.png"}));
  // --name naming the input manifest in its own folder: refused even with --force, the input untouched.
  const std::string before = read_file(root / "set.jsonl");
  po.out_dir = root;
  po.output_name = "set.jsonl";
  po.force = true;
  try {
    build_pairs(po);
    ADD_FAILURE() << "the input manifest was allowed as the output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is the input manifest"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(root / "set.jsonl"), before);
}
