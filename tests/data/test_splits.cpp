// Seeded splits by reference: parsing, determinism, sizes, and that no reference crosses splits.
#include <gtest/gtest.h>

#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/data/splits.h"
#include "test_util.h"

using namespace hawkeye;

TEST(Splits, ParsesFractions) {
  const auto f = parse_split_fractions("train=0.8,val=0.1,test=0.1");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1].first, "val");
  EXPECT_DOUBLE_EQ(f[0].second, 0.8);
  for (const char* bad : {"", "train", "train=0.8", "train=0.5,test=0.6", "Train=1", "a=0.5,a=0.5", "a=x,b=1",
                          "a=0,b=1", "a=-0.5,b=1.5"}) {
    EXPECT_THROW(parse_split_fractions(bad), Error) << bad;
  }
}

TEST(Splits, AreSeededSizedAndCoverEveryKeyOnce) {
  std::vector<std::string> keys;
  for (int i = 0; i < 73; ++i) keys.push_back("ref" + std::to_string(i));
  const auto f = parse_split_fractions("train=0.8,test=0.2");
  const auto a = assign_splits(keys, f, 1);
  EXPECT_EQ(a.size(), 73u);
  std::map<std::string, int> count;
  for (const auto& [k, s] : a) ++count[s];
  EXPECT_EQ(count["train"], 58);  // 58.4 -> 58, 14.6 -> 15 by largest remainder
  EXPECT_EQ(count["test"], 15);
  EXPECT_EQ(assign_splits(keys, f, 1), a);
  std::vector<std::string> shuffled(keys.rbegin(), keys.rend());
  EXPECT_EQ(assign_splits(shuffled, f, 1), a);  // input order does not matter
  EXPECT_NE(assign_splits(keys, f, 2), a);
  // Tiny sets: every split still gets a key.
  const auto small = assign_splits({"a", "b"}, parse_split_fractions("train=0.9,test=0.1"), 0);
  std::set<std::string> used;
  for (const auto& [k, s] : small) used.insert(s);
  EXPECT_EQ(used.size(), 2u);
}

TEST(Splits, NoReferenceCrossesSplits) {
  Manifest m;
  m.form = ManifestForm::full_reference;
  for (int ref = 0; ref < 10; ++ref)
    for (int d = 0; d < 5; ++d) {
      ManifestRow r;
      r.reference = "ref" + std::to_string(ref) + ".png";
      r.image = "ref" + std::to_string(ref) + "_" + std::to_string(d) + ".png";
      r.score = 3;
      r.line = m.rows.size() + 2;
      m.rows.push_back(r);
    }
  const auto assignment = apply_splits(m, parse_split_fractions("train=0.7,test=0.3"), 5);
  EXPECT_EQ(assignment.size(), 10u);
  EXPECT_NO_THROW(check_splits_by_reference(m));
  for (const auto& r : m.rows) EXPECT_EQ(r.split, assignment.at(r.reference));
  // A hand-made leak is caught and located.
  m.rows[3].split = m.rows[3].split == "train" ? "test" : "train";
  try {
    check_splits_by_reference(m);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(":5: reference 'ref0.png'"), std::string::npos) << e.what();
  }
}

TEST(Splits, SplitFileRoundTripsAndRejectsOverlaps) {
  test::TempDir dir;
  const auto f = parse_split_fractions("train=0.5,test=0.5");
  const auto a = assign_splits({"x", "y", "z", "w"}, f, 3);
  write_split_file(dir.path() / "splits.json", a, f, 3);
  EXPECT_EQ(read_split_file(dir.path() / "splits.json"), a);
  write_file_atomic(dir.path() / "bad.json", R"({"splits": {"train": ["a", "b"], "test": ["b"]}})");
  try {
    read_split_file(dir.path() / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parse);
    EXPECT_NE(std::string(e.what()).find("'b' is in both"), std::string::npos) << e.what();
  }
  write_file_atomic(dir.path() / "bad2.json", "{\"splits\": ");
  EXPECT_THROW(read_split_file(dir.path() / "bad2.json"), Error);
}
