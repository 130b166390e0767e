// `hawkeye metric` and `hawkeye correlate` through the built binary: outputs, exit statuses and the bad
// input of the issue (missing references, sizes, kinds, NaN predictions, mismatched keys).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "calibration.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/image/io.h"
#include "hawkeye/metrics/correlation.h"
#include "hawkeye/metrics/full_reference.h"
#include "hawkeye/metrics/registry.h"

using namespace hawkeye;

namespace {

// Skips when the CLI is not built (a build without torch has no binary).
#define REQUIRE_CLI()                                                                      \
  if (std::string(HAWKEYE_CLI).empty() || !fs::exists(HAWKEYE_CLI)) GTEST_SKIP() << "the hawkeye binary is not built"

test::CommandResult cli(const std::string& args, bool merge_stderr = false) {
  return test::run_command(std::string("'") + HAWKEYE_CLI + "' -q " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

const fs::path kTid = test::fixtures() / "tid2013_pyiqa_calibra";

}  // namespace

TEST(MetricCli, ListsTheMetrics) {
  REQUIRE_CLI();
  auto r = cli("metric --list");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("brisque_opencv  NR   0 .. 100"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("psnr            FR"), std::string::npos) << r.output;  // one column width for every name
  r = cli("metric --list --format jsonl");
  const auto rows = jsonl(r.output);
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0]["metric"], "psnr");
  EXPECT_TRUE(rows[0]["highest"].is_null());  // unbounded
  EXPECT_EQ(rows[4]["higher_is_better"], false);  // gmsd
}

TEST(MetricCli, FolderPairsByFileNameAndMatchesTheLibrary) {
  REQUIRE_CLI();
  const auto r = cli("metric ssim --ref " + q(kTid / "ref_dir") + " " + q(kTid / "dist_dir"));
  ASSERT_EQ(r.status, 0);
  const auto rows = jsonl(r.output);
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& row : rows) {
    const fs::path image = row["image"].get<std::string>();
    EXPECT_EQ(fs::path(row["reference"].get<std::string>()).filename(), image.filename());
    EXPECT_EQ(row["score"].get<double>(), ssim(load_image(kTid / "ref_dir" / image.filename()), load_image(image)));
  }
  const auto csv = cli("metric psnr --format csv --ref " + q(kTid / "ref_dir/I03.bmp") + " " + q(kTid / "ref_dir/I03.bmp"));
  EXPECT_EQ(csv.status, 0);
  EXPECT_NE(csv.output.find("image,reference,metric,score,error,note\n"), std::string::npos) << csv.output;
  EXPECT_NE(csv.output.find(",psnr,,,identical images"), std::string::npos) << csv.output;  // +inf: empty cell
}

TEST(MetricCli, BatchErrorsAreRecordsSingleErrorsAreStatuses) {
  REQUIRE_CLI();
  test::TempDir dir;
  save_image(dir.path() / "small.png", test::synthetic_image(100, 80, 3));
  // A batch with a missing file and a size mismatch: records with the error, exit 12.
  auto r = cli("metric gmsd --ref " + q(kTid / "ref_dir/I03.bmp") + " " + q(kTid / "dist_dir/I03.bmp") + " " +
               q(dir.path() / "missing.png") + " " + q(dir.path() / "small.png"));
  EXPECT_EQ(r.status, kExitSomeInputsFailed);
  const auto rows = jsonl(r.output);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0]["score"].is_number());
  EXPECT_EQ(rows[1]["error_code"], "not_found");
  EXPECT_EQ(rows[2]["error_code"], "invalid_argument");
  EXPECT_NE(rows[2]["error"].get<std::string>().find("512x384 but the distorted image is 100x80"), std::string::npos);
  // One image: its error is the exit status.
  EXPECT_EQ(cli("metric brisque_opencv " + q(dir.path() / "missing.png")).status, exit_status(ErrorCode::not_found));
  // A folder of references without the image's name.
  r = cli("metric ssim --ref " + q(dir.path()) + " " + q(kTid / "dist_dir/I03.bmp"));
  EXPECT_EQ(r.status, exit_status(ErrorCode::not_found));
  EXPECT_NE(jsonl(r.output)[0]["error"].get<std::string>().find("no reference named I03.bmp"), std::string::npos);
  // 1x1 images: PSNR is defined, SSIM says what it needs.
  save_image(dir.path() / "a.png", Image(1, 1, 3, 10));
  save_image(dir.path() / "b.png", Image(1, 1, 3, 12));
  EXPECT_EQ(cli("metric psnr --ref " + q(dir.path() / "a.png") + " " + q(dir.path() / "b.png")).status, 0);
  r = cli("metric ssim --ref " + q(dir.path() / "a.png") + " " + q(dir.path() / "b.png"), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::invalid_argument));
  EXPECT_NE(r.output.find("at least 11x11"), std::string::npos);
}

TEST(MetricCli, UsageMistakes) {
  REQUIRE_CLI();
  const std::string img = q(kTid / "dist_dir/I03.bmp");
  EXPECT_EQ(cli("metric ssim " + img).status, 2);                    // full-reference without --ref
  EXPECT_EQ(cli("metric niqe --ref " + img + " " + img).status, 2);  // no-reference with --ref
  EXPECT_EQ(cli("metric vif " + img).status, exit_status(ErrorCode::not_found));
  EXPECT_EQ(cli("metric brisque_opencv").status, 2);  // no images
  EXPECT_EQ(cli("metric").status, 2);          // no name
  EXPECT_EQ(cli("metric brisque_opencv --format xml " + img).status, 2);
  const auto r = cli("metric niqe --niqe-model /nonexistent.mat " + img, true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::not_found));
}

TEST(CorrelateCli, JoinsByKeyAndMatchesTheLibrary) {
  REQUIRE_CLI();
  test::TempDir dir;
  write_file_atomic(dir.path() / "pred.csv", "name,score\na.png,1.0\nb.png,2.5\nc.png,2.0\nd.png,4.0\ne.png,5.5\nx.png,3\n");
  write_file_atomic(dir.path() / "gt.csv", "dist_name,mos,std\nsub/e.png,5.0,1\nsub/a.png,1.2,1\nsub/b.png,2.0,1\nsub/c.png,2.9,1\nsub/d.png,4.1,1\n");
  auto r = cli("correlate --pred " + q(dir.path() / "pred.csv") + " --gt " + q(dir.path() / "gt.csv") + " --match basename");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const std::vector<double> p = {1.0, 2.5, 2.0, 4.0, 5.5}, m = {1.2, 2.0, 2.9, 4.1, 5.0};
  const CorrelationReport want = correlate(p, m);
  EXPECT_EQ(j["n"], 5);
  EXPECT_DOUBLE_EQ(j["srcc"].get<double>(), want.srcc.value);
  EXPECT_DOUBLE_EQ(j["plcc"].get<double>(), want.plcc.value);
  EXPECT_DOUBLE_EQ(j["krcc"].get<double>(), want.krcc.value);
  EXPECT_DOUBLE_EQ(j["rmse"].get<double>(), want.rmse.value);
  EXPECT_EQ(j["gt_key"], "dist_name");
  EXPECT_EQ(j["gt_col"], "mos");
  // Mismatched keys are a documented result: x.png has no score.
  EXPECT_EQ(j["unmatched"]["pred"], 1);
  EXPECT_EQ(j["unmatched"]["pred_examples"][0], "x.png");
  // Without --match basename nothing matches: a clear error with the hint.
  r = cli("correlate --pred " + q(dir.path() / "pred.csv") + " --gt " + q(dir.path() / "gt.csv"), true);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--match basename"), std::string::npos) << r.output;
}

TEST(CorrelateCli, BadPredictionsAndDegenerateInput) {
  REQUIRE_CLI();
  test::TempDir dir;
  write_file_atomic(dir.path() / "gt.csv", "name,mos\na,1\nb,2\nc,3\nd,4\n");
  write_file_atomic(dir.path() / "nan.csv", "name,score\na,1\nb,nan\nc,3\nd,4\n");
  auto r = cli("correlate --pred " + q(dir.path() / "nan.csv") + " --gt " + q(dir.path() / "gt.csv"), true);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("nan.csv line 3: prediction 'score' is nan"), std::string::npos) << r.output;
  write_file_atomic(dir.path() / "text.csv", "name,score\na,1\nb,high\n");
  r = cli("correlate --pred " + q(dir.path() / "text.csv") + " --gt " + q(dir.path() / "gt.csv"), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::parse));
  EXPECT_NE(r.output.find("holds 'high', not a number"), std::string::npos);
  write_file_atomic(dir.path() / "dup.csv", "name,score\na,1\na,2\n");
  r = cli("correlate --pred " + q(dir.path() / "dup.csv") + " --gt " + q(dir.path() / "gt.csv"), true);
  EXPECT_NE(r.output.find("key 'a' appears twice (first on line 2)"), std::string::npos) << r.output;
  // JSON Lines predictions (hawkeye metric's output) with a failed image: its null score is named.
  write_file_atomic(dir.path() / "p.jsonl", "{\"image\":\"a\",\"score\":1}\n{\"image\":\"b\",\"score\":null,\"error\":\"x\"}\n");
  r = cli("correlate --pred " + q(dir.path() / "p.jsonl") + " --gt " + q(dir.path() / "gt.csv"), true);
  EXPECT_NE(r.output.find("p.jsonl line 2: prediction 'score' is empty"), std::string::npos) << r.output;
  // Two matched pairs: the JSON says why the statistics are undefined; the status is numerical (10).
  write_file_atomic(dir.path() / "two.csv", "name,score\na,1\nb,2\n");
  r = cli("correlate --pred " + q(dir.path() / "two.csv") + " --gt " + q(dir.path() / "gt.csv"));
  EXPECT_EQ(r.status, exit_status(ErrorCode::numerical));
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_TRUE(j["srcc"].is_null());
  EXPECT_NE(j["reasons"]["srcc"].get<std::string>().find("at least 3 pairs"), std::string::npos);
  EXPECT_EQ(cli("correlate --pred " + q(dir.path() / "two.csv")).status, 2);  // --gt missing
  EXPECT_EQ(cli("correlate --pred " + q(dir.path() / "two.csv") + " --gt " + q(dir.path() / "gt.csv") + " --gt-col dmos").status, 2);
}

// Issue 19 §4/§5: `--files-from FILE|-` adds one input per line (data sets larger than the argument list), and
// metric expands folders and patterns as score does (one helper, image/inputs.h).
TEST(MetricCli, FilesFromAListOrStandardInputAndPatterns) {
  REQUIRE_CLI();
  test::TempDir dir;
  const fs::path d = kTid / "dist_dir";
  std::vector<fs::path> dist;
  for (const auto& e : fs::directory_iterator(d)) dist.push_back(e.path());
  std::sort(dist.begin(), dist.end());
  ASSERT_GE(dist.size(), 3u);
  write_file_atomic(dir.path() / "list.txt", dist[0].string() + "\r\n\n" + dist[1].string() + "\n");
  auto r = cli("metric ssim --ref " + q(kTid / "ref_dir") + " --files-from " + q(dir.path() / "list.txt") + " " + q(dist[2]));
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = jsonl(r.output);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["image"], dist[2].string());  // the arguments first, then the list
  EXPECT_EQ(rows[1]["image"], dist[0].string());
  EXPECT_EQ(rows[2]["image"], dist[1].string());
  r = test::run_command("printf '%s\\n' " + q(dist[1]) + " | '" + HAWKEYE_CLI + "' -q metric ssim --ref " + q(kTid / "ref_dir") +
                        " --files-from - 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  rows = jsonl(r.output);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["image"], dist[1].string());
  // a quoted pattern, expanded by hawkeye (as in score)
  r = cli("metric ssim --ref " + q(kTid / "ref_dir") + " " + q(d / "*"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(jsonl(r.output).size(), dist.size());
  // a missing or empty list is an error naming it
  r = cli("metric ssim --ref " + q(kTid / "ref_dir") + " --files-from " + q(dir.path() / "none.txt"), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::not_found)) << r.output;
  EXPECT_NE(r.output.find("none.txt: no such file (the list of files)"), std::string::npos) << r.output;
  write_file_atomic(dir.path() / "empty.txt", "\n\n");
  r = cli("metric ssim --ref " + q(kTid / "ref_dir") + " --files-from " + q(dir.path() / "empty.txt"), true);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("the list of files is empty"), std::string::npos) << r.output;
}

// Issue 19 §4: several metrics in one call, and `--data MANIFEST`: the eval protocol for classical metrics
// (scores.jsonl with a column per metric, report.json with SRCC/PLCC/KRCC against the manifest's labels).
TEST(MetricCli, SeveralMetricsInOneCallKeepTheInputOrderOnAnyThreadCount) {
  REQUIRE_CLI();
  const std::string args = "metric ssim,gmsd,brisque_opencv --ref " + q(kTid / "ref_dir") + " " + q(kTid / "dist_dir");
  const auto one = test::run_command("'" + std::string(HAWKEYE_CLI) + "' -q --threads 1 " + args + " 2>/dev/null");
  const auto two = test::run_command("'" + std::string(HAWKEYE_CLI) + "' -q --threads 4 " + args + " 2>/dev/null");
  ASSERT_EQ(one.status, 0) << one.output;
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_EQ(one.output, two.output);  // the same records in the same order
  const auto rows = jsonl(one.output);
  ASSERT_EQ(rows.size(), 15u);  // 5 images x 3 metrics, image by image
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["metric"], (std::vector<std::string>{"ssim", "gmsd", "brisque_opencv"}[i % 3]));
    EXPECT_EQ(rows[i]["image"], rows[i - i % 3]["image"]);
  }
  const fs::path first = rows[0]["image"].get<std::string>();
  EXPECT_EQ(rows[1]["score"].get<double>(), gmsd(load_image(kTid / "ref_dir" / first.filename()), load_image(first)));
  EXPECT_FALSE(rows[2].contains("reference"));  // a no-reference metric ignores --ref in a mixed list
  // the mean of each metric follows the records on standard error
  const auto with_mean = test::run_command("'" + std::string(HAWKEYE_CLI) + "' metric ssim,psnr --ref " + q(kTid / "ref_dir") + " " +
                                           q(kTid / "dist_dir") + " 2>&1 >/dev/null");
  EXPECT_NE(with_mean.output.find("mean over 5 images: ssim "), std::string::npos) << with_mean.output;
  // mistakes
  EXPECT_EQ(cli("metric ssim,ssmi --ref " + q(kTid / "ref_dir") + " " + q(kTid / "dist_dir")).status, exit_status(ErrorCode::not_found));
  EXPECT_EQ(cli("metric ssim,,psnr --ref " + q(kTid / "ref_dir") + " " + q(kTid / "dist_dir")).status, 2);
  EXPECT_EQ(cli("metric brisque_opencv,niqe --ref " + q(kTid / "ref_dir") + " " + q(kTid / "dist_dir")).status, 2);
  EXPECT_EQ(cli("metric brisque_opencv --out x " + q(kTid / "dist_dir")).status, 2);  // --out needs --data
}

namespace {

// A full-reference manifest of the five TID2013 calibration pairs with made-up opinion scores on 0..9 and two
// distortion types.
fs::path write_tid_manifest(const fs::path& dir, const std::string& extra_row = "") {
  std::string text = "{\"hawkeye_manifest\":1,\"form\":\"fr\",\"score_field\":\"mos\",\"score_range\":[0,9],\"higher_better\":true}\n";
  const char* names[] = {"I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"};
  const double mos[] = {5.1, 3.2, 6.0, 4.4, 2.5};
  for (int i = 0; i < 5; ++i) {
    text += "{\"image\":\"" + (kTid / "dist_dir" / names[i]).string() + "\",\"reference\":\"" + (kTid / "ref_dir" / names[i]).string() +
            "\",\"mos\":" + std::to_string(mos[i]) + ",\"type_name\":\"" + (i < 2 ? "a" : "b") + "\"}\n";
  }
  text += extra_row;
  write_file_atomic(dir / "m.jsonl", text);
  return dir / "m.jsonl";
}

}  // namespace

TEST(MetricCli, DataManifestGetsTheEvalProtocol) {
  REQUIRE_CLI();
  test::TempDir dir;
  const fs::path manifest = write_tid_manifest(dir.path());
  const fs::path out = dir.path() / "out";
  auto r = cli("metric ssim,gmsd --data " + q(manifest) + " --out " + q(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 metrics on"), std::string::npos) << r.output;
  const auto rows = jsonl(read_file(out / "scores.jsonl"));
  ASSERT_EQ(rows.size(), 5u);
  std::vector<double> s, g, label;
  for (const auto& row : rows) {
    const fs::path image = row["image"].get<std::string>(), ref = row["reference"].get<std::string>();
    EXPECT_EQ(row["ssim"].get<double>(), ssim(load_image(ref), load_image(image)));
    EXPECT_EQ(row["gmsd"].get<double>(), gmsd(load_image(ref), load_image(image)));
    s.push_back(row["ssim"].get<double>());
    g.push_back(-row["gmsd"].get<double>());  // lower is better: negated before the statistics
    label.push_back(row["label"].get<double>());
  }
  EXPECT_NEAR(rows[0]["label"].get<double>(), 1 + 4 * 5.1 / 9, 1e-12);  // 0..9 mapped onto 1..5
  EXPECT_EQ(rows[0]["type"], "a");
  const auto report = nlohmann::json::parse(read_file(out / "report.json"));
  ASSERT_EQ(report["metrics"].size(), 2u);
  EXPECT_EQ(report["metrics"][0]["metric"], "ssim");
  EXPECT_DOUBLE_EQ(report["metrics"][0]["srcc"].get<double>(), srcc(s, label).value);
  EXPECT_DOUBLE_EQ(report["metrics"][0]["plcc"].get<double>(), plcc(s, label).value);
  EXPECT_EQ(report["metrics"][1]["sign"], -1.0);
  EXPECT_DOUBLE_EQ(report["metrics"][1]["srcc"].get<double>(), srcc(g, label).value);
  EXPECT_EQ(report["metrics"][0]["n"], 5);
  ASSERT_EQ(report["metrics"][0]["per_type"].size(), 2u);
  EXPECT_EQ(report["metrics"][0]["per_type"][1]["n"], 3);
  // straight into correlate: the same SRCC from the per-image file and the manifest
  const auto c = cli("correlate --pred " + q(out / "scores.jsonl") + " --pred-col ssim --gt " + q(manifest) + " --gt-col mos");
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_NEAR(nlohmann::json::parse(c.output)["srcc"].get<double>(), srcc(s, label).value, 1e-12);
  // an earlier run's results are kept unless --force
  r = cli("metric ssim --data " + q(manifest) + " --out " + q(out), true);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("already holds the results"), std::string::npos) << r.output;
  EXPECT_EQ(jsonl(read_file(out / "scores.jsonl"))[0].count("gmsd"), 1u);  // untouched
  r = cli("metric psnr --data " + q(manifest) + " --out " + q(out) + " --force --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["metrics"][0]["metric"], "psnr");
  // "all" on a full-reference manifest: every metric
  r = cli("metric all --data " + q(manifest) + " --out " + q(dir.path() / "all") + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["metrics"].size(), list_metrics().size());
}

TEST(MetricCli, DataManifestMistakesAndFailedRows) {
  REQUIRE_CLI();
  test::TempDir dir;
  // a row whose image is missing: counted, reported, the others scored; exit 12
  const fs::path manifest = write_tid_manifest(
      dir.path(), "{\"image\":\"missing.png\",\"reference\":\"" + (kTid / "ref_dir/I03.bmp").string() + "\",\"mos\":1,\"type_name\":\"a\"}\n");
  auto r = cli("metric ssim --data " + q(manifest) + " --out " + q(dir.path() / "o") + " --json");
  EXPECT_EQ(r.status, kExitSomeInputsFailed) << r.output;
  const auto report = nlohmann::json::parse(r.output);
  EXPECT_EQ(report["metrics"][0]["n"], 5);
  EXPECT_EQ(report["metrics"][0]["failures"], 1);
  const auto rows = jsonl(read_file(dir.path() / "o/scores.jsonl"));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_TRUE(rows[5]["ssim"].is_null());
  EXPECT_NE(rows[5]["errors"]["ssim"].get<std::string>().find("missing.png"), std::string::npos);
  // a full-reference metric on a no-reference manifest
  write_file_atomic(dir.path() / "nr.jsonl",
                    "{\"hawkeye_manifest\":1,\"form\":\"nr\",\"score_field\":\"mos\",\"score_range\":[0,9],\"higher_better\":true}\n"
                    "{\"image\":\"" + (kTid / "dist_dir/I03.bmp").string() + "\",\"mos\":3}\n");
  r = cli("metric ssim --data " + q(dir.path() / "nr.jsonl") + " --out " + q(dir.path() / "nr"), true);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("ssim is a full-reference metric"), std::string::npos) << r.output;
  // images and --data together; a missing manifest
  EXPECT_EQ(cli("metric brisque_opencv --data " + q(manifest) + " " + q(kTid / "dist_dir")).status, 2);
  EXPECT_EQ(cli("metric brisque_opencv --data " + q(dir.path() / "none.jsonl")).status, exit_status(ErrorCode::not_found));
  // --out naming a file
  write_file_atomic(dir.path() / "file", "x");
  EXPECT_EQ(cli("metric brisque_opencv --data " + q(manifest) + " --out " + q(dir.path() / "file")).status, 2);
  EXPECT_EQ(read_file(dir.path() / "file"), "x");
}
