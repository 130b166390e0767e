// KADID's per-(type, level) human scores and the short warm-start descriptions.
#include <gtest/gtest.h>

#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/image/distortions/kadid.h"
#include "test_util.h"

using namespace hawkeye;

TEST(KadidLabels, ResourceIsTheSharedTableWithAll125Rows) {
  const KadidLabelTable t = KadidLabelTable::load_default();
  ASSERT_EQ(t.rows().size(), 125u);
  // The resource is a byte-for-byte copy of the shared data folder's kadid_type_level_dmos.csv: its SHA-256 is
  // the one SOURCES.md records, and it equals that file where the folder is present.
  const auto resource = test::source_dir() / "resources" / "kadid_type_level_dmos.csv";
  const std::string sources = read_file(test::source_dir() / "SOURCES.md");
  const auto hash = test::run_command("sha256sum '" + resource.string() + "'");
  ASSERT_EQ(hash.status, 0);
  ASSERT_GE(hash.output.size(), 64u);
  EXPECT_NE(sources.find("`resources/kadid_type_level_dmos.csv` | copied byte for byte"), std::string::npos);
  EXPECT_NE(sources.find("sha256 `" + hash.output.substr(0, 64) + "`"), std::string::npos) << hash.output;
  const auto shared = test::full_data_file("kadid_type_level_dmos.csv");
  if (!shared.empty()) EXPECT_EQ(read_file(resource), read_file(shared));
  // Values from the table's text (also quoted in docs/distortions.md section 6).
  EXPECT_DOUBLE_EQ(t.mean(1, 1), 4.6122);
  EXPECT_NEAR(t.mean(18, 3), 4.60, 0.005);
  EXPECT_NEAR(t.mean(25, 3), 4.29, 0.005);
  EXPECT_NEAR(t.mean(23, 1), 2.69, 0.005);
  EXPECT_EQ(t.at(12, 2).type_name, "white_noise_color_component");
  EXPECT_EQ(t.at(7, 4).n, 81);
  EXPECT_THROW(t.at(26, 1), Error);
  for (const auto& r : t.rows()) EXPECT_EQ(r.type_name, kadid_distortion(r.type_id).name);
}

TEST(KadidLabels, BrokenTablesAreRejectedWithTheLine) {
  test::TempDir dir;
  const std::string good = read_file(test::source_dir() / "resources" / "kadid_type_level_dmos.csv");
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    write_file_atomic(dir.path() / "t.csv", text);
    try {
      KadidLabelTable::load(dir.path() / "t.csv");
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::parse);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::size_t last = good.rfind('\n', good.size() - 2);
  expect_error(good.substr(0, last + 1), "missing type 25 level 5");
  std::string renamed = good;
  renamed.replace(renamed.find("lens_blur"), 9, "lens_blue");
  expect_error(renamed, "t.csv:7: type 2 is named 'lens_blue'");
  std::string bad_score = good;
  bad_score.replace(bad_score.find("4.6122"), 6, "x.6122");
  expect_error(bad_score, "t.csv:2: mean_dmos");
  expect_error(good + "1,gaussian_blur,1,4.6,0.1,81\n", "t.csv:127: type 1 level 1 repeats line 2");
}

TEST(Descriptions, AreShortVariedAndDeterministic) {
  const KadidLabelTable t = KadidLabelTable::load_default();
  for (const auto& r : t.rows()) {
    const auto v = kadid_description_variants(r.type_id, r.level, r.mean_dmos);
    EXPECT_GE(v.size(), 3u) << r.type_name << " " << r.level;
    for (const auto& s : v) {
      EXPECT_GE(s.size(), kMinDescriptionLength) << s;
      EXPECT_LE(s.size(), kMaxDescriptionLength) << s;
      for (unsigned char c : s) EXPECT_TRUE(c >= 32 && c < 127) << s;
    }
    std::set<std::string> seen;
    for (std::uint64_t seed = 0; seed < 64; ++seed) {
      const std::string d = describe_kadid(r.type_id, r.level, r.mean_dmos, seed);
      EXPECT_EQ(d, describe_kadid(r.type_id, r.level, r.mean_dmos, seed));
      EXPECT_TRUE(std::binary_search(v.begin(), v.end(), d));
      seen.insert(d);
    }
    EXPECT_GE(seen.size(), 2u) << r.type_name << " " << r.level;
  }
}

TEST(Descriptions, SeverityFollowsTheHumanLabel) {
  EXPECT_EQ(severity_band(4.6), "barely visible");
  EXPECT_EQ(severity_band(4.0), "slight");
  EXPECT_EQ(severity_band(3.2), "moderate");
  EXPECT_EQ(severity_band(2.5), "strong");
  EXPECT_EQ(severity_band(1.3), "severe");
  const KadidLabelTable t = KadidLabelTable::load_default();
  // Gaussian blur level 5 (1.30): severe words and the blur named.
  for (const auto& s : kadid_description_variants(1, 5, t.mean(1, 5))) {
    EXPECT_TRUE(s.rfind("severe", 0) == 0 || s.rfind("extreme", 0) == 0 || s.rfind("very strong", 0) == 0) << s;
    EXPECT_NE(s.find("blur"), std::string::npos) << s;
  }
  // KADID's identity levels are described as clean.
  for (const auto& s : kadid_description_variants(18, 3, t.mean(18, 3)))
    EXPECT_TRUE(s.find("no visible") != std::string::npos || s.find("clean") != std::string::npos ||
                s.find("pristine") != std::string::npos)
        << s;
  // Direction-dependent types say which way: mean shift up vs down, contrast up vs down.
  EXPECT_NE(kadid_description_variants(18, 1, t.mean(18, 1)).front().find("brightness"), std::string::npos);
  for (const auto& s : kadid_description_variants(25, 5, t.mean(25, 5))) EXPECT_NE(s.find("contrast"), std::string::npos);
  for (const auto& s : kadid_description_variants(7, 5, t.mean(7, 5)))
    EXPECT_TRUE(s.find("hue") != std::string::npos || s.find("false colours") != std::string::npos) << s;
}
