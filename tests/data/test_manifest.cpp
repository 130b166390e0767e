// Manifests: the 11 pyiqa score lists, score scales, CSV/JSONL round trips, and bad input (every error names
// the file and the line).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/data/manifest.h"
#include "test_util.h"

using namespace hawkeye;

namespace {

ManifestReadOptions with_scale(double lo, double hi, bool higher = true) {
  ManifestReadOptions o;
  o.scale = ScoreScale{lo, hi, higher};
  return o;
}

// Parses text that must fail; returns the error (code and message) for checks.
Error csv_error(const std::string& text, const ManifestReadOptions& o = with_scale(0, 10)) {
  try {
    parse_manifest_csv(text, "bad.csv", o);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return Error(ErrorCode::internal, "");
}
Error jsonl_error(const std::string& text, const ManifestReadOptions& o = {}) {
  try {
    parse_manifest_jsonl(text, "bad.jsonl", o);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return Error(ErrorCode::internal, "");
}

bool mentions(const Error& e, const std::string& s) { return std::string(e.what()).find(s) != std::string::npos; }

const char* kJsonlHeader = R"({"hawkeye_manifest": 1, "form": "nr", "score_field": "mos", "score_range": [0, 10], "higher_better": true})";

}  // namespace

TEST(ScoreScale, MapsTheDeclaredRangeOntoOneToFive) {
  const ScoreScale mos{0, 100, true};
  EXPECT_DOUBLE_EQ(mos.to_label(0), 1.0);
  EXPECT_DOUBLE_EQ(mos.to_label(100), 5.0);
  EXPECT_DOUBLE_EQ(mos.to_label(50), 3.0);
  EXPECT_DOUBLE_EQ(mos.from_label(3.0), 50.0);
  const ScoreScale dmos{0, 1, false};  // CSIQ: lower is better
  EXPECT_DOUBLE_EQ(dmos.to_label(0), 5.0);
  EXPECT_DOUBLE_EQ(dmos.to_label(1), 1.0);
  EXPECT_DOUBLE_EQ(dmos.to_label(0.25), 4.0);
  EXPECT_DOUBLE_EQ(dmos.from_label(4.0), 0.25);
  EXPECT_DOUBLE_EQ(mos.to_label(150), 5.0);  // clamped
  EXPECT_EQ(dmos.describe(), "[0, 1], lower is better");
}

// The 11 score lists of pyiqa (row counts and score extremes counted from the files themselves).
// tests/fixtures/mos_lists_pyiqa holds the six small lists whole and a subset of the five large ones (KADID-10k,
// KonIQ-10k, KonIQ-10k++, PIPAL, SPAQ: the header, every n-th row and the rows of the lowest and highest score,
// written by tests/fixtures/subsample_score_list.py), so the extremes are those of the full lists; the full lists
// are checked too when the shared data folder holds them.
namespace {

struct ExpectedList {
  const char* file;
  ManifestForm form;
  std::size_t rows;         // rows of the full list
  std::size_t fixture_rows; // rows of the copy in tests/fixtures/
  const char* score_name;
  double min, max;
};

const ExpectedList kPyiqaLists[] = {
    {"meta_info_CSIQDataset.csv", ManifestForm::full_reference, 866, 866, "dmos", 0.0, 1.0},
    {"meta_info_KADID10kDataset.csv", ManifestForm::full_reference, 10125, 392, "dmos", 1.0, 4.93},
    {"meta_info_KonIQ10k++Dataset.csv", ManifestForm::no_reference, 10073, 390, "qmos", 1.171875, 4.86538461538461},
    {"meta_info_KonIQ10kDataset.csv", ManifestForm::no_reference, 10073, 390, "mos", 3.91176470588, 88.3888888889},
    {"meta_info_LIVEChallengeDataset.csv", ManifestForm::no_reference, 1169, 1169, "mos", 3.42, 92.4319526627219},
    {"meta_info_LIVEIQADataset.csv", ManifestForm::full_reference, 779, 779, "mos", 17.90242445870529, 84.48897153621613},
    {"meta_info_LIVEMDDataset.csv", ManifestForm::full_reference, 450, 450, "dmos", 0.6111111111111112, 84.66666666666667},
    {"meta_info_PIPALDataset.csv", ManifestForm::full_reference, 23200, 402, "elo_score", 916.7136, 1835.9856},
    {"meta_info_SPAQDataset.csv", ManifestForm::no_reference, 11125, 400, "MOS", 2.0, 96.0},
    {"meta_info_TID2008Dataset.csv", ManifestForm::full_reference, 1700, 1700, "mos", 0.0, 7.7143},
    {"meta_info_TID2013Dataset.csv", ManifestForm::full_reference, 3000, 3000, "mos", 0.24242, 7.21429},
};

void check_pyiqa_list(const std::filesystem::path& file, const ExpectedList& e, std::size_t rows) {
  SCOPED_TRACE(file.string());
  const Manifest m = read_manifest(file);
  EXPECT_EQ(m.form, e.form);
  EXPECT_EQ(m.rows.size(), rows);
    EXPECT_EQ(m.score_name, e.score_name);
    EXPECT_EQ(m.scale.lo, find_known_score_list(e.file)->scale.lo);
  double lo = 1e300, hi = -1e300;
  for (const auto& r : m.rows) {
    lo = std::min(lo, r.score);
    hi = std::max(hi, r.score);
    const double label = m.label(r);
    ASSERT_TRUE(label >= 1.0 && label <= 5.0) << m.where(r);
    if (e.form == ManifestForm::full_reference) ASSERT_FALSE(r.reference.empty()) << m.where(r);
  }
  EXPECT_DOUBLE_EQ(lo, e.min);
  EXPECT_DOUBLE_EQ(hi, e.max);
}

}  // namespace

TEST(PyiqaLists, AllElevenLoadWithTheirFormsScalesAndRowCounts) {
  ASSERT_EQ(known_score_lists().size(), 11u);
  int full = 0;
  for (const auto& e : kPyiqaLists) {
    check_pyiqa_list(test::fixtures() / "mos_lists_pyiqa" / e.file, e, e.fixture_rows);
    const auto whole = test::full_data_file(std::string("mos_lists_pyiqa/") + e.file);
    if (!whole.empty()) {
      check_pyiqa_list(whole, e, e.rows);
      ++full;
    }
  }
  if (full < 11) std::cout << "[ note ] the full lists are checked where the shared data folder holds them: " << full << " of 11\n";
}

TEST(PyiqaLists, KeepSpreadSplitAndExtraColumns) {
  const Manifest koniq = read_manifest(test::fixtures() / "mos_lists_pyiqa" / "meta_info_KonIQ10kDataset.csv");
  // first row: 10004473376.jpg,77.3836206897,0.527277894494,0,...
  EXPECT_EQ(koniq.rows[0].image, "10004473376.jpg");
  EXPECT_NEAR(koniq.rows[0].std, 0.527277894494, 1e-12);
  EXPECT_EQ(koniq.rows[0].split, "0");
  EXPECT_EQ(extra_text(koniq.rows[0], "c_total"), "105");
  EXPECT_EQ(extra_number(koniq.rows[0], "c_total"), 105.0);
  EXPECT_EQ(koniq.rows[0].line, 2u);
  // SPAQ repeats the column "Brightness": the second becomes "Brightness.1".
  const Manifest spaq = read_manifest(test::fixtures() / "mos_lists_pyiqa" / "meta_info_SPAQDataset.csv");
  EXPECT_EQ(extra_text(spaq.rows[0], "Brightness"), "47.43");
  EXPECT_EQ(extra_text(spaq.rows[0], "Brightness.1"), "-1.21");
  // KADID: higher is better although the column is called dmos; LIVE's "mos" holds DMOS (lower is better).
  const Manifest kadid = read_manifest(test::fixtures() / "mos_lists_pyiqa" / "meta_info_KADID10kDataset.csv");
  EXPECT_TRUE(kadid.scale.higher_better);
  EXPECT_EQ(kadid.rows[0].reference, "I01.png");
  EXPECT_EQ(kadid.rows[0].image, "I01_01_01.png");
  EXPECT_DOUBLE_EQ(kadid.label(kadid.rows[0]), 4.57);
  const Manifest live = read_manifest(test::fixtures() / "mos_lists_pyiqa" / "meta_info_LIVEIQADataset.csv");
  EXPECT_FALSE(live.scale.higher_better);
  EXPECT_EQ(live.image_path(live.rows[0]), test::fixtures() / "mos_lists_pyiqa" / "jp2k/img2.bmp");
}

TEST(ManifestCsv, RoundTripsWithASidecarThatDeclaresTheScale) {
  test::TempDir dir;
  Manifest m;
  m.form = ManifestForm::full_reference;
  m.score_name = "label";
  m.scale = ScoreScale{1, 5, true};
  for (int i = 0; i < 3; ++i) {
    ManifestRow r;
    r.image = "images/a_" + std::to_string(i) + ".png";
    r.reference = "refs/a.png";
    r.score = 1.5 + i;
    r.split = i ? "train" : "test";
    r.extra["type_id"] = i + 1;
    r.extra["description"] = "strong blur, edges \"smeared\", gone";  // quotes and commas survive
    m.rows.push_back(r);
  }
  const auto path = dir.path() / "set.csv";
  write_manifest(path, m);
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "set.csv.meta.json"));
  const Manifest back = read_manifest(path);  // no known list: the sidecar declares the scale
  EXPECT_EQ(back.form, ManifestForm::full_reference);
  EXPECT_EQ(back.score_name, "label");
  ASSERT_EQ(back.rows.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back.rows[i].image, m.rows[i].image);
    EXPECT_EQ(back.rows[i].reference, "refs/a.png");
    EXPECT_DOUBLE_EQ(back.rows[i].score, m.rows[i].score);
    EXPECT_EQ(back.rows[i].split, m.rows[i].split);
    EXPECT_EQ(extra_number(back.rows[i], "type_id"), i + 1.0);
    EXPECT_EQ(extra_text(back.rows[i], "description"), "strong blur, edges \"smeared\", gone");
  }
  EXPECT_EQ(back.root, dir.path());
  // Without the sidecar the scale is unknown: a clear error, not a guess.
  std::filesystem::remove(dir.path() / "set.csv.meta.json");
  try {
    read_manifest(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_TRUE(mentions(e, "no declared score range")) << e.what();
    EXPECT_TRUE(mentions(e, "set.csv.meta.json")) << e.what();
  }
}

TEST(ManifestJsonl, RoundTripsWithTypedExtras) {
  test::TempDir dir;
  Manifest m;
  m.score_name = "mos";
  m.scale = ScoreScale{0, 100, false};
  ManifestRow r;
  r.image = "x.png";
  r.score = 12.5;
  r.std = 3.0;
  r.extra["level"] = 3;
  r.extra["substitute"] = true;
  r.extra["twin"] = "twins/x.png";
  m.rows.push_back(r);
  r.image = "y.png";
  r.std = NAN;
  m.rows.push_back(r);
  const auto path = dir.path() / "set.jsonl";
  write_manifest(path, m);
  const Manifest back = read_manifest(path);
  EXPECT_EQ(back.form, ManifestForm::no_reference);
  EXPECT_FALSE(back.scale.higher_better);
  EXPECT_EQ(back.scale.hi, 100);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].std, 3.0);
  EXPECT_TRUE(std::isnan(back.rows[1].std));
  EXPECT_EQ(back.rows[0].extra["level"], 3);
  EXPECT_EQ(back.rows[0].extra["substitute"], true);
  EXPECT_EQ(extra_text(back.rows[0], "substitute"), "true");
  EXPECT_EQ(back.rows[1].line, 3u);
  EXPECT_DOUBLE_EQ(back.label(back.rows[0]), 4.5);
}

TEST(ManifestCsv, ToleratesBomCrlfQuotedNewlinesAndNamedScoreColumns) {
  const std::string text = "\xEF\xBB\xBFname,mos,note\r\na.png,3.5,\"two\nlines\"\r\nb.png,4,plain\r\n\r\n";
  const Manifest m = parse_manifest_csv(text, "ok.csv", with_scale(1, 5));
  ASSERT_EQ(m.rows.size(), 2u);
  EXPECT_EQ(extra_text(m.rows[0], "note"), "two\nlines");
  EXPECT_EQ(m.rows[1].line, 4u);
  ManifestReadOptions o = with_scale(0, 1);
  o.score_column = "w";
  const Manifest named = parse_manifest_csv("img,q,w\na.png,77,0.5\n", "ok.csv", o);
  EXPECT_EQ(named.rows[0].score, 0.5);
  EXPECT_EQ(extra_text(named.rows[0], "q"), "77");
}

TEST(ManifestBadInput, MalformedCsvNamesFileAndLine) {
  Error e = csv_error("name,mos\na.png,1\nb.png,\"2\n");
  EXPECT_EQ(e.code(), ErrorCode::parse);
  EXPECT_TRUE(mentions(e, "bad.csv:3")) << e.what();
  EXPECT_TRUE(mentions(e, "unterminated")) << e.what();
  e = csv_error("name,mos\na.png,1\nb.png,2,extra\n");
  EXPECT_TRUE(mentions(e, "bad.csv:3: 3 cells, but the header (line 1) has 2 columns")) << e.what();
  e = csv_error("");
  EXPECT_EQ(e.code(), ErrorCode::parse);
  EXPECT_TRUE(mentions(e, "empty manifest")) << e.what();
  e = csv_error("name,mos\n");
  EXPECT_TRUE(mentions(e, "no rows")) << e.what();
  e = csv_error("name,,mos\na,1,2\n");
  EXPECT_TRUE(mentions(e, "bad.csv:1: empty column name")) << e.what();
}

TEST(ManifestBadInput, MissingColumnsAreNamed) {
  Error e = csv_error("name\na.png\n");
  EXPECT_EQ(e.code(), ErrorCode::parse);
  EXPECT_TRUE(mentions(e, "bad.csv:1: missing columns")) << e.what();
  ManifestReadOptions o = with_scale(0, 10);
  o.form = ManifestForm::full_reference;
  e = csv_error("ref_name,dist_name\nr.png,d.png\n", o);
  EXPECT_TRUE(mentions(e, "FR form needs ref_name, dist_name, score")) << e.what();
  o = with_scale(0, 10);
  o.score_column = "quality";
  e = csv_error("name,mos\na.png,1\n", o);
  EXPECT_TRUE(mentions(e, "missing column 'quality'")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"mos\": 3}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: missing field \"image\"")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": \"a.png\"}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: missing field \"mos\"")) << e.what();
}

TEST(ManifestBadInput, NonNumericAndOutOfRangeScores) {
  for (const char* bad : {"abc", "", "nan", "inf", "3.5x", "1e999"}) {
    const Error e = csv_error(std::string("name,mos\na.png,2\nb.png,") + bad + "\n");
    EXPECT_EQ(e.code(), ErrorCode::parse);
    EXPECT_TRUE(mentions(e, "bad.csv:3: score '")) << e.what();
    EXPECT_TRUE(mentions(e, "in column 'mos' is not a number")) << e.what();
  }
  Error e = csv_error("name,mos\na.png,11\n");
  EXPECT_TRUE(mentions(e, "bad.csv:2: mos 11 is outside the declared score range [0, 10]")) << e.what();
  e = csv_error("name,mos,std\na.png,1,-2\n");
  EXPECT_TRUE(mentions(e, "bad.csv:2: std '-2'")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": \"a.png\", \"mos\": \"high\"}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: score \"high\" in field \"mos\" is not a number")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": \"a.png\", \"mos\": null}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2")) << e.what();
}

TEST(ManifestBadInput, DuplicateNamesNameBothLines) {
  Error e = csv_error("name,mos\na.png,1\nb.png,2\na.png,3\n");
  EXPECT_EQ(e.code(), ErrorCode::parse);
  EXPECT_TRUE(mentions(e, "bad.csv:4: duplicate image 'a.png' (first on line 2)")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": \"a.png\", \"mos\": 1}\n{\"image\": \"a.png\", \"mos\": 2}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:3: duplicate image 'a.png' (first on line 2)")) << e.what();
  ManifestReadOptions o = with_scale(0, 10);
  o.allow_duplicate_images = true;
  EXPECT_EQ(parse_manifest_csv("name,mos\na.png,1\na.png,3\n", "ok.csv", o).rows.size(), 2u);
}

TEST(ManifestBadInput, MalformedJsonlNamesFileAndLine) {
  Error e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": \"a.png\", \"mos\": 1\n");
  EXPECT_EQ(e.code(), ErrorCode::parse);
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: invalid JSON")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n[1, 2]\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: expected a JSON object, got array")) << e.what();
  e = jsonl_error("{\"image\": \"a.png\", \"mos\": 1}\n");
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(mentions(e, "no declared score range")) << e.what();
  e = jsonl_error("{\"image\": \"a.png\", \"score\": 1}\n" + std::string(kJsonlHeader) + "\n", with_scale(0, 10));
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: the header object must be the first line")) << e.what();
  e = jsonl_error(R"({"hawkeye_manifest": 1, "score_range": [5, 1], "higher_better": true})" "\n");
  EXPECT_TRUE(mentions(e, "is not a valid range")) << e.what();
  e = jsonl_error(R"({"hawkeye_manifest": 1, "score_range": [1, 5]})" "\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:1: \"higher_better\" must be true or false")) << e.what();
  e = jsonl_error(std::string(kJsonlHeader) + "\n{\"image\": 7, \"mos\": 1}\n");
  EXPECT_TRUE(mentions(e, "bad.jsonl:2: field \"image\" must be a non-empty string")) << e.what();
}

TEST(ManifestBadInput, FilesAndSidecars) {
  test::TempDir dir;
  EXPECT_THROW(read_manifest(dir.path() / "missing.csv"), Error);
  try {
    read_manifest(dir.path() / "list.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  write_file_atomic(dir.path() / "a.csv", "name,mos\nx.png,1\n");
  write_file_atomic(dir.path() / "a.csv.meta.json", "{\"score_range\": [0, 1]");
  try {
    read_manifest(dir.path() / "a.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parse);
    EXPECT_TRUE(mentions(e, "a.csv.meta.json")) << e.what();
  }
  write_file_atomic(dir.path() / "a.csv.meta.json", R"({"score_range": [0, 1], "higher_better": false})");
  const Manifest m = read_manifest(dir.path() / "a.csv");
  EXPECT_DOUBLE_EQ(m.label(m.rows[0]), 1.0);
}
