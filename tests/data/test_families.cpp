// KADID's seven distortion families and the keyword matcher that reads them out of reasoning text: every
// warm-start description names its own type's family first, and the matcher's rule on hand-written text.
#include <gtest/gtest.h>

#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/data/families.h"
#include "hawkeye/data/kadid_labels.h"
#include "hawkeye/image/distortions/kadid.h"

using namespace hawkeye;

TEST(Families, TheSevenKadidGroupsInKadidsOrder) {
  // Lin, Hosu, Saupe 2019 (KADID-10k), the grouping of its 25 types.
  const std::vector<std::pair<std::string_view, std::vector<int>>> groups = {
      {"blur", {1, 2, 3}},
      {"color", {4, 5, 6, 7, 8}},
      {"compression", {9, 10}},
      {"noise", {11, 12, 13, 14, 15}},
      {"brightness", {16, 17, 18}},
      {"spatial", {19, 20, 21, 22, 23}},
      {"sharpness_contrast", {24, 25}},
  };
  ASSERT_EQ(family_names().size(), groups.size());
  int checked = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    EXPECT_EQ(family_names()[i], groups[i].first);
    EXPECT_EQ(family_keywords()[i].family, groups[i].first);
    for (int id : groups[i].second) {
      EXPECT_EQ(kadid_family(id), groups[i].first) << "type " << id;
      ++checked;
    }
  }
  EXPECT_EQ(checked, kKadidTypeCount);
  EXPECT_THROW(kadid_family(0), Error);
  EXPECT_THROW(kadid_family(26), Error);
}

TEST(Families, KeywordsAreLowerCaseAndBelongToOneFamily) {
  std::set<std::string_view> seen;
  for (const auto& f : family_keywords()) {
    EXPECT_FALSE(f.keywords.empty()) << f.family;
    for (std::string_view k : f.keywords) {
      EXPECT_TRUE(seen.insert(k).second) << "keyword '" << k << "' appears twice";
      for (char c : k) EXPECT_FALSE(c >= 'A' && c <= 'Z') << k;
    }
  }
}

// Every phrasing descriptions.cpp can produce, for every type and level, at the KADID label of the (type, level)
// and at one label inside each severity band (the bands pick the severity words and whether effects are said).
TEST(Families, EveryDescriptionNamesItsTypesFamilyFirst) {
  const KadidLabelTable labels = KadidLabelTable::load_default();
  std::size_t named = 0, identity = 0;
  for (int type = 1; type <= kKadidTypeCount; ++type) {
    for (int level = 1; level <= kKadidLevelCount; ++level) {
      for (double label : {labels.mean(type, level), 4.6, 4.0, 3.4, 2.6, 1.5}) {
        const auto variants = kadid_description_variants(type, level, label);
        // describe_kadid draws from these: its seeds cover nothing beyond them.
        for (std::uint64_t seed = 0; seed < 8; ++seed) {
          const std::string d = describe_kadid(type, level, label, seed);
          EXPECT_NE(std::find(variants.begin(), variants.end(), d), variants.end()) << d;
        }
        for (const std::string& d : variants) {
          const FamilyMatch m = first_family_match(d);
          if (d.find("no visible distortion") != std::string::npos || d.find("no artefacts") != std::string::npos ||
              d.find("no defects") != std::string::npos) {
            EXPECT_EQ(m.family, kNoFamily) << "identity description '" << d << "' matched '" << m.keyword << "'";
            EXPECT_TRUE(kadid_distortion_invisible(type, level, label)) << type << " L" << level;
            ++identity;
            continue;
          }
          EXPECT_EQ(m.family, kadid_family(type))
              << "type " << type << " L" << level << " label " << label << ": '" << d << "' matched '" << m.keyword << "'";
          ++named;
        }
      }
    }
  }
  EXPECT_GT(named, 2000u);
  EXPECT_EQ(identity, 4u * 6u * 3u);  // 4 identity levels x 6 labels x 3 phrasings
}

TEST(Families, TheFirstFamilyNamedWins) {
  EXPECT_EQ(named_family("strong jpeg blocking, blurry, ringing edges"), "compression");
  EXPECT_EQ(named_family("blurry, ringing edges from jpeg"), "blur");
  EXPECT_EQ(named_family("grainy highlights, slightly dark"), "noise");
  EXPECT_EQ(named_family("the image is too dark and noisy"), "brightness");
  const FamilyMatch m = first_family_match("mild contrast boost with some blur");
  EXPECT_EQ(m.family, "sharpness_contrast");
  EXPECT_EQ(m.keyword, "contrast");
  EXPECT_EQ(m.position, 5u);
}

TEST(Families, AtTheSamePositionTheLongerKeywordWins) {
  EXPECT_EQ(first_family_match("colour noise everywhere").keyword, "colour noise");
  EXPECT_EQ(named_family("colour noise everywhere"), "noise");
  EXPECT_EQ(named_family("colour block artefacts"), "spatial");
  EXPECT_EQ(named_family("colour fringing"), "color");
}

TEST(Families, MatchingIgnoresCaseAndFindsStemsInsideWords) {
  EXPECT_EQ(named_family("Severe GAUSSIAN BLUR"), "blur");
  EXPECT_EQ(named_family("JPEG2000 Compression"), "compression");
  EXPECT_EQ(named_family("heavy oversaturation"), "color");
  EXPECT_EQ(named_family("Underexposure"), "brightness");
  EXPECT_EQ(named_family("over-denoising, waxy texture"), "noise");
  EXPECT_EQ(named_family("OverSharpening halos"), "sharpness_contrast");
}

TEST(Families, TextWithoutAKeywordNamesNone) {
  for (std::string_view t : {"", "ok", "no visible distortion", "clean image, no artefacts", "looks pristine, no defects",
                             "good quality photo of a house"}) {
    const FamilyMatch m = first_family_match(t);
    EXPECT_EQ(m.family, kNoFamily) << t;
    EXPECT_EQ(m.keyword, "") << t;
    EXPECT_EQ(m.position, std::string::npos) << t;
  }
}

TEST(Families, BarelyVisibleLabelsAndIdentityLevelsAreInvisible) {
  EXPECT_TRUE(kadid_distortion_invisible(10, 2, 4.4));    // the "barely visible" band starts at 4.4
  EXPECT_FALSE(kadid_distortion_invisible(10, 2, 4.39));
  EXPECT_TRUE(kadid_distortion_invisible(18, 3, 3.0));    // mean shift 0: an identity level whatever its label
  EXPECT_FALSE(kadid_distortion_invisible(18, 0, 3.0));   // level unknown: the label alone decides
  EXPECT_FALSE(kadid_distortion_invisible(1, 5, 1.2));
  EXPECT_THROW(kadid_distortion_invisible(26, 1, 3.0), Error);
  EXPECT_THROW(kadid_distortion_invisible(1, 6, 3.0), Error);
  // With KADID's own labels (resources/kadid_type_level_dmos.csv): 13 (type, level) pairs have a mean >= 4.4,
  // the 4 identity levels among them.
  const KadidLabelTable labels = KadidLabelTable::load_default();
  int invisible = 0;
  for (const auto& row : labels.rows()) invisible += kadid_distortion_invisible(row.type_id, row.level, row.mean_dmos);
  EXPECT_EQ(invisible, 13);
}
