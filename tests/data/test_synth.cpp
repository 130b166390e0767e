// The synthetic set builder: files, labels from the KADID table, splits by reference, determinism.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/data/manifest.h"
#include "hawkeye/data/splits.h"
#include "hawkeye/data/synth.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

SynthOptions small_options(const std::filesystem::path& out) {
  SynthOptions o;
  o.references = {test::fixtures() / "kodak" / "kodim03.png", test::fixtures() / "kodak" / "kodim12.png",
                  test::fixtures() / "wikipedia" / "010.png", test::fixtures() / "wikipedia" / "020.png"};
  o.out_dir = out;
  o.width = 96;
  o.height = 72;
  o.types = {1, 10, 18, 23};
  o.levels = {1, 3, 5};
  o.splits = parse_split_fractions("train=0.5,test=0.5");
  o.seed = 11;
  o.threads = 2;
  o.progress = false;
  o.format = "both";
  return o;
}

}  // namespace

TEST(Synth, WritesImagesManifestsAndSplitsWithKadidLabels) {
  test::TempDir dir;
  const SynthOptions o = small_options(dir.path() / "set");
  const SynthResult r = synthesize(o);
  EXPECT_EQ(r.references, 4u);
  EXPECT_EQ(r.images, 4u * 4 * 3);
  EXPECT_EQ(r.rows_per_split.at("train") + r.rows_per_split.at("test"), r.images);
  EXPECT_EQ(r.manifests.size(), 4u);  // train/test x jsonl/csv
  const KadidLabelTable labels = KadidLabelTable::load_default();
  const auto split_of = read_split_file(r.split_file);
  EXPECT_EQ(split_of.size(), 4u);
  std::set<std::string> refs_seen;
  for (const char* name : {"train.jsonl", "test.jsonl", "train.csv", "test.csv"}) {
    SCOPED_TRACE(name);
    const Manifest m = read_manifest(o.out_dir / name);
    EXPECT_EQ(m.form, ManifestForm::full_reference);
    EXPECT_EQ(m.score_name, "label");
    EXPECT_TRUE(m.scale.higher_better);
    EXPECT_NO_THROW(check_splits_by_reference(m));
    for (const auto& row : m.rows) {
      const int type = static_cast<int>(*extra_number(row, "type_id"));
      const int level = static_cast<int>(*extra_number(row, "level"));
      // The label is the table's mean for (type, level), and the row says which type it is.
      EXPECT_DOUBLE_EQ(row.score, labels.mean(type, level)) << m.where(row);
      EXPECT_EQ(extra_text(row, "type_name"), kadid_distortion(type).name);
      EXPECT_EQ(extra_text(row, "substitute"), "false");
      const std::string desc = extra_text(row, "description");
      EXPECT_FALSE(desc.empty());
      EXPECT_LE(desc.size(), 50u);
      // The split column agrees with the file and the split file.
      EXPECT_EQ(row.split, std::string(name).substr(0, std::string(name).find('.')));
      const std::string id = std::filesystem::path(row.reference).stem().string();
      EXPECT_EQ(split_of.at(id), row.split);
      refs_seen.insert(id);
      // Images exist at the target size.
      const Image img = load_image(m.image_path(row));
      EXPECT_EQ(img.width, 96);
      EXPECT_EQ(img.height, 72);
      EXPECT_EQ(row.image, synth_image_name(id, type, level));
    }
  }
  EXPECT_EQ(refs_seen.size(), 4u);
  // No reference crosses splits across the two manifests either.
  std::set<std::string> train, test;
  for (const auto& row : read_manifest(o.out_dir / "train.jsonl").rows) train.insert(row.reference);
  for (const auto& row : read_manifest(o.out_dir / "test.jsonl").rows) test.insert(row.reference);
  for (const auto& ref : train) EXPECT_EQ(test.count(ref), 0u) << ref;
  EXPECT_TRUE(std::filesystem::exists(o.out_dir / "synth.json"));
}

TEST(Synth, SameSeedGivesIdenticalBytesWhateverTheThreadCount) {
  test::TempDir dir;
  SynthOptions a = small_options(dir.path() / "a");
  a.types = {3, 23};  // random types
  a.format = "jsonl";
  SynthOptions b = a;
  b.out_dir = dir.path() / "b";
  b.threads = 1;
  synthesize(a);
  synthesize(b);
  for (const char* f : {"train.jsonl", "test.jsonl", "splits.json", "images/kodim03_23_5.png", "images/010_03_3.png",
                        "references/020.png"}) {
    EXPECT_EQ(read_file(a.out_dir / f), read_file(b.out_dir / f)) << f;
  }
  // A different seed changes the random types.
  SynthOptions c = a;
  c.out_dir = dir.path() / "c";
  c.seed = 12;
  synthesize(c);
  EXPECT_NE(read_file(a.out_dir / "images/kodim03_23_5.png"), read_file(c.out_dir / "images/kodim03_23_5.png"));
  // The image equals apply_kadid on the stored reference with the documented seed (what `hawkeye degrade`
  // reproduces).
  const Image ref = load_image(a.out_dir / "references/kodim03.png");
  EXPECT_EQ(load_image(a.out_dir / "images/kodim03_23_5.png"), apply_kadid(ref, 23, 5, kadid_seed(11, "kodim03", 23, 5)));
  EXPECT_EQ(ref, resize_cover(load_image(test::fixtures() / "kodak" / "kodim03.png"), 96, 72));
}

TEST(Synth, RefusesBadOptionsAndBadReferences) {
  test::TempDir dir;
  SynthOptions o = small_options(dir.path() / "set");
  o.types = {1};
  o.levels = {1};
  synthesize(o);
  try {
    synthesize(o);  // not empty any more
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  o.force = true;
  EXPECT_NO_THROW(synthesize(o));
  SynthOptions bad = small_options(dir.path() / "bad");
  bad.width = 10;
  EXPECT_THROW(synthesize(bad), Error);
  bad = small_options(dir.path() / "bad");
  bad.format = "xml";
  EXPECT_THROW(synthesize(bad), Error);
  // A truncated reference is named in the error.
  const std::string png = read_file(test::fixtures() / "kodak" / "kodim03.png");
  std::filesystem::create_directories(dir.path() / "refs");
  write_file_atomic(dir.path() / "refs" / "broken.png", png.substr(0, png.size() / 3));
  bad = small_options(dir.path() / "bad2");
  bad.references = {dir.path() / "refs"};
  try {
    synthesize(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt_data);
    EXPECT_NE(std::string(e.what()).find("broken.png"), std::string::npos) << e.what();
  }
  bad.references = {dir.path() / "nothing-here"};
  EXPECT_THROW(synthesize(bad), Error);
}

TEST(Synth, ReferenceIdsAreStemsMadeUniqueByTheirFolder) {
  EXPECT_EQ(reference_ids({"a/x.png", "b/y.png"}), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(reference_ids({"a/x.png", "b/x.png"}), (std::vector<std::string>{"a_x", "b_x"}));
  EXPECT_THROW(reference_ids({"a/x.png", "a/x.jpg"}), Error);
  EXPECT_EQ(synth_image_name("kodim01", 3, 2), "images/kodim01_03_2.png");
}

TEST(Synth, TrainSampleSpreadsOverTheTypesAndLeavesOtherSplitsWhole) {
  test::TempDir dir;
  SynthOptions o = small_options(dir.path() / "set");
  o.train_sample = 6;  // 4 types x 3 levels = 12 combinations: every type once, then two types a second time
  const SynthResult r = synthesize(o);
  const auto split_of = read_split_file(r.split_file);
  std::size_t train_refs = 0;
  for (const auto& [ref, split] : split_of) train_refs += split == "train";
  ASSERT_GT(train_refs, 0u);
  EXPECT_EQ(r.rows_per_split.at("train"), train_refs * 6);
  EXPECT_EQ(r.rows_per_split.at("test"), (4 - train_refs) * 12);
  std::map<std::string, std::map<int, std::set<int>>> levels_of;  // reference -> type -> levels
  for (const auto& row : read_manifest(o.out_dir / "train.jsonl").rows) {
    const int type = static_cast<int>(*extra_number(row, "type_id"));
    EXPECT_TRUE(levels_of[row.reference][type].insert(static_cast<int>(*extra_number(row, "level"))).second) << "a duplicate";
    EXPECT_TRUE(std::filesystem::exists(o.out_dir / row.image));
  }
  std::set<std::string> choices;
  for (const auto& [ref, per_type] : levels_of) {
    EXPECT_EQ(per_type.size(), 4u) << ref << ": every type appears before any type repeats";
    std::size_t twice = 0;
    std::string choice;
    for (const auto& [type, levels] : per_type) {
      twice += levels.size() == 2;
      for (int l : levels) choice += std::to_string(type) + ":" + std::to_string(l) + " ";
    }
    EXPECT_EQ(twice, 2u) << ref;
    choices.insert(choice);
  }
  EXPECT_EQ(choices.size(), levels_of.size()) << "each reference draws its own combinations";
  // The same seed draws the same combinations.
  SynthOptions again = o;
  again.out_dir = dir.path() / "again";
  synthesize(again);
  EXPECT_EQ(read_file(o.out_dir / "train.jsonl"), read_file(again.out_dir / "train.jsonl"));
}

TEST(Synth, TheJpeg2000CoderChangesOnlyType9AndIsRecorded) {
  test::TempDir dir;
  SynthOptions o = small_options(dir.path() / "default");
  o.types = {9, 10};
  o.levels = {2, 4};
  synthesize(o);
  SynthOptions w = o;
  w.out_dir = dir.path() / "wavelet97";
  w.jpeg2000 = Jpeg2000Coder::wavelet97;
  synthesize(w);
  EXPECT_EQ(nlohmann::json::parse(read_file(o.out_dir / "synth.json")).at("jpeg2000"), "opencv53");
  EXPECT_EQ(nlohmann::json::parse(read_file(w.out_dir / "synth.json")).at("jpeg2000"), "wavelet97");
  std::size_t rows = 0;
  for (const auto& row : read_manifest(o.out_dir / "test.jsonl").rows) {
    const int type = static_cast<int>(*extra_number(row, "type_id"));
    const std::string a = read_file(o.out_dir / row.image), b = read_file(w.out_dir / row.image);
    if (type == 9) EXPECT_NE(a, b) << row.image;
    else EXPECT_EQ(a, b) << row.image;
    ++rows;
  }
  EXPECT_GT(rows, 0u);
}
