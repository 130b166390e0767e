// Runs the built hawkeye binary: exit statuses, messages, no crashes on bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/text_util.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/image/io.h"
#include "image_fixtures.h"
#include "test_util.h"

using namespace hawkeye;

namespace {
test::CommandResult hawkeye_cli(const std::string& args, bool merge_stderr = true) {
  return test::run_command(std::string("'") + HAWKEYE_CLI + "' " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}
}  // namespace

TEST(Cli, VersionPrintsEverythingAsked) {
  const auto r = hawkeye_cli("--version --threads 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("hawkeye 0."), std::string::npos);
  EXPECT_NE(r.output.find("git "), std::string::npos);
  EXPECT_NE(r.output.find("libtorch 1."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("BLAS "), std::string::npos);
  EXPECT_NE(r.output.find("threads 1"), std::string::npos);
}

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(hawkeye_cli("--help").status, 0);
  EXPECT_EQ(hawkeye_cli("info --help").status, 0);
  EXPECT_EQ(hawkeye_cli("no-such-command").status, 2);
  EXPECT_EQ(hawkeye_cli("info").status, 2);  // missing argument
  EXPECT_EQ(hawkeye_cli("--log-level loud info x").status, 2);
  EXPECT_EQ(hawkeye_cli("").status, 2);
}

TEST(Cli, InfoDescribesAnImage) {
  test::TempDir dir;
  Image img(30, 20, 3, 100);
  save_image(dir.path() / "a.png", img);
  auto r = hawkeye_cli("info --json " + q(dir.path() / "a.png"), false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["format"], "png");
  EXPECT_EQ(j["width"], 30);
  EXPECT_EQ(j["height"], 20);
  EXPECT_EQ(j["bit_depth"], 8);
  write_file_atomic(dir.path() / "g16.png", test::make_png(5, 4, 0, 16));
  r = hawkeye_cli("info --json " + q(dir.path() / "g16.png"), false);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(nlohmann::json::parse(r.output)["bit_depth"], 16);
  EXPECT_EQ(nlohmann::json::parse(r.output)["stored_channels"], 1);
  r = hawkeye_cli("info " + q(dir.path() / "a.png"));
  EXPECT_NE(r.output.find("width: 30"), std::string::npos);
}

TEST(Cli, InfoDescribesAModelDirectory) {
  const fs::path fixture = fs::path(HAWKEYE_SOURCE_DIR) / "tests/parity/fixtures/qwen2_5_vl_tiny";
  auto r = hawkeye_cli("info --json " + q(fixture), false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["kind"], "model");
  EXPECT_EQ(j["architecture"], "Qwen2_5_VLForConditionalGeneration");
  EXPECT_GT(j["parameters"].get<long long>(), 0);
  ASSERT_TRUE(j.contains("lm_gflops_per_token")) << r.output;
  EXPECT_GT(j["lm_gflops_per_token"].get<double>(), 0.0);
  EXPECT_NE(r.output.find("\"gflops_per_image\""), std::string::npos) << r.output;  // per resolution for Qwen
  EXPECT_TRUE(j.contains("score_range"));
  // A name that is neither a file nor a known model, and a directory without config.json.
  EXPECT_EQ(hawkeye_cli("info no-such-model-name").status, 3);
  test::TempDir dir;
  EXPECT_EQ(hawkeye_cli("info " + q(dir.path())).status, 2);
}

TEST(Cli, InfoBadInputMatrix) {
  test::TempDir dir;
  const Image img(64, 48, 3, 90);
  const std::string jpeg = encode_image(img, "jpeg");
  const std::string png = encode_image(img, "png");
  write_file_atomic(dir.path() / "empty.png", "");
  write_file_atomic(dir.path() / "random.png", std::string("\x13\x37\xbe\xef random bytes here", 22));
  write_file_atomic(dir.path() / "trunc.jpg", jpeg.substr(0, jpeg.size() / 2));
  write_file_atomic(dir.path() / "trunc.png", png.substr(0, png.size() - 20));
  write_file_atomic(dir.path() / "huge.png", test::make_png_header_only(100000, 100000));
  fs::create_directories(dir.path() / "folder");
  struct Case {
    std::string file;
    ErrorCode code;
    std::string words;
  } cases[] = {
      {"missing.png", ErrorCode::not_found, "no such file"},
      {"folder", ErrorCode::invalid_argument, "directory"},
      {"empty.png", ErrorCode::corrupt_data, "empty"},
      {"random.png", ErrorCode::unsupported, "not an image"},
      {"trunc.jpg", ErrorCode::corrupt_data, "truncated JPEG"},
      {"trunc.png", ErrorCode::corrupt_data, "truncated PNG"},
      {"huge.png", ErrorCode::limit_exceeded, "exceeds the limit"},
  };
  for (const auto& c : cases) {
    const auto r = hawkeye_cli("info " + q(dir.path() / c.file));
    EXPECT_FALSE(r.signaled) << c.file;
    EXPECT_EQ(r.status, exit_status(c.code)) << c.file << ": " << r.output;
    EXPECT_NE(r.output.find(c.words), std::string::npos) << c.file << ": " << r.output;
  }
}

// Issue 18 item 12, the CLI's side: a name longer than PATH_MAX is not "no such file"; a failed write to standard
// output says why; --max-pixels 0 means the default limit in info and metric as in score.
TEST(Cli, MessagesSayWhatHappened) {
  test::TempDir dir;
  save_image(dir.path() / "a.png", Image(128, 128, 3, 100));
  const std::string long_name = (dir.path() / std::string(5000, 'x')).string() + ".png";
  auto r = hawkeye_cli("info '" + long_name + "'");
  EXPECT_EQ(r.status, exit_status(ErrorCode::io)) << r.output;
  EXPECT_NE(r.output.find("File name too long"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("no such file"), std::string::npos) << r.output;
  r = hawkeye_cli("metric niqe '" + long_name + "'");
  EXPECT_NE(r.output.find("File name too long"), std::string::npos) << r.output;

  r = hawkeye_cli("info --max-pixels 0 --json " + q(dir.path() / "a.png"), false);
  EXPECT_EQ(r.status, 0) << r.output;
  r = hawkeye_cli("info --max-pixels 100 " + q(dir.path() / "a.png"));
  EXPECT_EQ(r.status, exit_status(ErrorCode::limit_exceeded)) << r.output;

  if (fs::exists("/dev/full")) {
    r = test::run_command("'" + std::string(HAWKEYE_CLI) + "' --threads 1 metric --list 2>&1 >/dev/full");
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  }
}

// Issue 19 §4: `hawkeye models` lists the shipped models and the model directories under folders given, with
// the SRCC recorded in their eval/ reports; a broken folder is listed with its error, not fatal.
TEST(Cli, ModelsListsShippedAndLocalModelDirectories) {
  test::TempDir dir;
  const fs::path shipped = fs::path(HAWKEYE_SOURCE_DIR) / "models" / "hawkeye-tiny";
  const fs::path mine = dir.path() / "runs" / "a" / "final";
  fs::create_directories(mine / "eval" / "mine");
  for (const char* f : {"config.json", "hawkeye.json", "model.safetensors", "tokenizer.json"}) fs::copy_file(shipped / f, mine / f);
  write_file_atomic(mine / "eval" / "mine" / "report.json", R"({"srcc": 0.5})");
  fs::create_directories(dir.path() / "runs" / "a" / "checkpoints" / "step-00000001");  // skipped
  fs::create_directories(dir.path() / "runs" / "broken");
  write_file_atomic(dir.path() / "runs" / "broken" / "config.json", "{}");
  write_file_atomic(dir.path() / "runs" / "broken" / "model.safetensors", "");
  auto r = hawkeye_cli("models --json " + q(dir.path() / "runs"), false);
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& j : json_lines(r.output)) {
    by_name[j["name"].get<std::string>()] = j;
  }
  ASSERT_TRUE(by_name.count("hawkeye-tiny")) << r.output;
  EXPECT_EQ(by_name["hawkeye-tiny"]["source"], "search path");
  EXPECT_GT(by_name["hawkeye-tiny"]["recorded_srcc"]["test-old-greedy"].get<double>(), 0.5);
  ASSERT_TRUE(by_name.count("a/final")) << r.output;
  EXPECT_EQ(by_name["a/final"]["architecture"], "hawkeye-tiny");
  EXPECT_EQ(by_name["a/final"]["recorded_srcc"]["mine"], 0.5);
  EXPECT_EQ(by_name["a/final"]["parameters"], by_name["hawkeye-tiny"]["parameters"]);
  ASSERT_TRUE(by_name.count("broken")) << r.output;
  EXPECT_TRUE(by_name["broken"].contains("error"));
  for (const auto& [name, j] : by_name) EXPECT_EQ(name.find("checkpoints"), std::string::npos) << name;
  r = hawkeye_cli("models " + q(dir.path() / "runs"));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("a/final"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mine 0.5000"), std::string::npos) << r.output;
  EXPECT_EQ(hawkeye_cli("models " + q(dir.path() / "nothing-here")).status, exit_status(ErrorCode::not_found));
}

// Issue 19 §4: `degrade --list` shows the 25 KADID types with their parameter per level, and the 4 Q-Hawkeye
// degradations; without --list the image, type, level and output are required.
TEST(Cli, DegradeListsTheDistortionTypes) {
  auto r = hawkeye_cli("degrade --list --json", false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 29u);
  EXPECT_EQ(lines[0]["name"], "gaussian_blur");
  EXPECT_EQ(lines[0]["levels"].size(), 5u);
  EXPECT_EQ(lines[28]["name"], "qh-darken");
  r = hawkeye_cli("degrade --list");
  EXPECT_NE(r.output.find("jpeg2000"), std::string::npos) << r.output;
  r = hawkeye_cli("degrade x.png --type jpeg --level 2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--out is required"), std::string::npos) << r.output;
}

// Issue 19 §3: "did you mean" for commands, options, model names and metric names; metric names are
// case-insensitive; "--" ends the options (tokenize took "-text" after it as an option).
TEST(Cli, MisspellingsGetADidYouMeanAndDoubleDashEndsTheOptions) {
  struct Case {
    std::string args, words;
    int status;
  };
  const Case cases[] = {
      {"scroe x.png", "unknown command 'scroe'; did you mean 'score'?", 2},
      {"frobnicate", "unknown command 'frobnicate' (hawkeye --help lists the commands)", 2},
      {"score --sampels 3 x.png", "score: unknown option --sampels; did you mean --samples?", 2},
      {"score --thraeds=2 x.png", "score: unknown option --thraeds; did you mean --threads?", 2},
      {"score --model hawkeye-tiyn x.png", "did you mean hawkeye-tiny?", 3},
      {"metric ssmi x.png", "no metric named 'ssmi'; did you mean ssim?", 3},
      {"tokenize --tokenizer hawkeye-byte -text", "unknown option -text (a text that starts with '-' goes after \"--\")", 2},
  };
  for (const auto& c : cases) {
    const auto r = hawkeye_cli(c.args);
    EXPECT_EQ(r.status, c.status) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.words), std::string::npos) << c.args << "\n" << r.output;
  }
  auto r = hawkeye_cli("tokenize --tokenizer hawkeye-byte -- -text --also", false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_EQ(lines[0]["text"], "-text");
  EXPECT_EQ(lines[1]["text"], "--also");
  // metric names are case-insensitive, as pyiqa's
  test::TempDir dir;
  save_image(dir.path() / "a.png", Image(128, 128, 3, 100));
  r = hawkeye_cli("metric PSNR --ref " + q(dir.path() / "a.png") + " " + q(dir.path() / "a.png"), false);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"metric\":\"psnr\""), std::string::npos) << r.output;
}

// Issue 19 §4, small things: "1 images"; synth with fewer references than splits said nothing about the empty
// split; degrade --out x.jpg chose a JPEG quality silently.
TEST(Cli, SmallThingsAreSaid) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "refs");
  Image img(64, 48, 3, 0);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = static_cast<std::uint8_t>((x * 37 + y * 101 + c * 53 + x * y) % 256);
  save_image(dir.path() / "refs" / "one.png", img);
  auto r = hawkeye_cli("synth --refs " + q(dir.path() / "refs") + " --out " + q(dir.path() / "set") +
                       " --size 64x48 --types 1 --levels 1 --split train=0.8,test=0.2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("split 'test' is empty: 1 reference(s) for 2 split(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("synth: 1 image from 1 reference in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("test: 0 rows"), std::string::npos) << r.output;
  r = hawkeye_cli("degrade " + q(dir.path() / "refs" / "one.png") + " --type jpeg --level 1 --out " + q(dir.path() / "d.jpg"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("JPEG quality 95 (--quality Q to choose"), std::string::npos) << r.output;
  r = hawkeye_cli("degrade " + q(dir.path() / "refs" / "one.png") + " --type jpeg --level 1 --quality 40 --out " + q(dir.path() / "d40.jpg"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_LT(fs::file_size(dir.path() / "d40.jpg"), fs::file_size(dir.path() / "d.jpg"));
  r = hawkeye_cli("degrade " + q(dir.path() / "refs" / "one.png") + " --type jpeg --level 1 --quality 40 --out " + q(dir.path() / "d.png"));
  EXPECT_EQ(r.status, 2) << r.output;
}

// Issue 15: --threads N fixes the count, auto (and no --threads) lets score/eval/serve follow the machine's load,
// training refuses auto; beside processes spinning on every core, scoring drops to one thread.
TEST(Cli, ThreadsAreANumberOrAutoAndScoringFollowsTheLoadOnABusyMachine) {
  const std::string img = std::string(HAWKEYE_SOURCE_DIR) + "/examples/plane-pristine.png";
  EXPECT_EQ(hawkeye_cli("--check-args --threads auto score " + q(img)).status, 0);
  EXPECT_EQ(hawkeye_cli("--check-args score --threads AUTO " + q(img)).status, 0);
  EXPECT_EQ(hawkeye_cli("--check-args --threads 0 score " + q(img)).status, 0);
  for (const std::string bad : {"abc", "-1", "5000", "1.5", ""}) {
    const auto r = hawkeye_cli("--threads '" + bad + "' score " + q(img));
    EXPECT_EQ(r.status, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("--threads: expected a number 0 .. 4096 (0 = all cores) or auto"), std::string::npos) << r.output;
  }
  const auto train = hawkeye_cli("--threads auto train --config " + q(std::string(HAWKEYE_SOURCE_DIR) + "/configs/hawkeye-tiny-grpo.toml"));
  EXPECT_EQ(train.status, 2) << train.output;
  EXPECT_NE(train.output.find("--threads auto is for scoring; a training run needs a fixed count"), std::string::npos) << train.output;

  if (available_cores() < 2) GTEST_SKIP() << "one core: nothing to follow";
  test::SpinningChildren children(2 * available_cores(), 120);  // twice the cores: no core is left half free
  std::string images;
  for (int i = 0; i < 2; ++i)
    for (const auto& e : fs::directory_iterator(fs::path(HAWKEYE_SOURCE_DIR) / "examples"))
      if (e.path().extension() == ".png") images += " " + q(e.path());
  const auto r = hawkeye_cli("--log-level debug score --batch 4 --format jsonl" + images);
  children.stop();
  ASSERT_EQ(r.status, 0) << r.output;
  // A decrease from all cores (in one change or more, depending on how long the model load took against the
  // governor's first window), down to one thread.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("threads: " + std::to_string(available_cores()) +
                                                     " -> [0-9]+ \\(other processes kept")))
      << r.output;
  EXPECT_NE(r.output.find("threads followed the machine's load: 1 to "), std::string::npos) << r.output;
}

// Issue 19 §2: every hawkeye command in a shell block of the README and docs/ parses (hawkeye --check-args: the
// command, its options, their types and ranges, the required ones), so the documented commands cannot rot.
// Synopsis lines with [optional] parts or … and prose lines ("hawkeye eval: …") are not commands.
TEST(Cli, EveryCommandInTheReadmeAndDocsParses) {
  std::vector<fs::path> files = {fs::path(HAWKEYE_SOURCE_DIR) / "README.md"};
  for (const auto& e : fs::directory_iterator(fs::path(HAWKEYE_SOURCE_DIR) / "docs"))
    if (e.path().extension() == ".md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // hawkeye at the start of a command: at the line's start, after VAR=value assignments, or after && ; |
  const std::regex command(R"(^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:.*(?:&&|;|\|)\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)?(?:\./)?(?:build/)?hawkeye((?:\s.*)?)$)");
  test::TempDir dir;
  int checked = 0;
  for (const auto& f : files) {
    std::istringstream in(read_file(f));
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    bool block = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string s = std::string(trim_space(lines[i]));
      if (s.rfind("```", 0) == 0) {
        // shell blocks only: no language, sh, bash, console, shell (not cmake, python, toml, json, …)
        const std::string lang = s.substr(3);
        block = !block && (lang.empty() || lang == "sh" || lang == "bash" || lang == "console" || lang == "shell");
        if (!block && lang.empty()) continue;
        if (!block) {
          while (i + 1 < lines.size() && std::string(trim_space(lines[i + 1])).rfind("```", 0) != 0) ++i;  // skip the block
          ++i;
        }
        continue;
      }
      if (!block || s.empty() || s[0] == '#') continue;
      while (!s.empty() && s.back() == '\\' && i + 1 < lines.size()) s = s.substr(0, s.size() - 1) + " " + std::string(trim_space(lines[++i]));
      if (s.rfind("$ ", 0) == 0) s = s.substr(2);
      std::smatch m;
      if (!std::regex_search(s, m, command)) continue;
      std::string rest = m[1].str();
      if (const auto hash = rest.find(" #"); hash != std::string::npos) rest = rest.substr(0, hash);  // a comment
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '&')) rest.pop_back();           // "… &"
      std::istringstream words(rest);
      std::string first;
      words >> first;
      if (first.empty() || first.back() == ':' || first == "and") continue;                       // prose
      if (rest.find(" [") != std::string::npos || rest.find("…") != std::string::npos || rest.find("...") != std::string::npos) continue;
      const auto r = test::run_command("cd " + q(dir.path()) + " && '" + std::string(HAWKEYE_CLI) + "' --check-args" + rest + " 2>&1");
      EXPECT_EQ(r.status, 0) << f.filename().string() << ": hawkeye" << rest << "\n" << r.output;
      ++checked;
    }
  }
  EXPECT_GE(checked, 25) << "the extraction found too few commands";
}

// Issue 19 §5: score, eval and metric end through one helper (cli.h end_run): the status and its one line.
TEST(Cli, RunEndingsGiveTheDocumentedStatusAndSayWhy) {
  struct Case {
    hawkeye::cli::RunEnding e;
    int status;
    const char* said;  // a part of the stderr line; "" = nothing said
  };
  auto ending = [](bool interrupted, std::size_t inputs, std::size_t answered, std::size_t parsed, std::size_t failed) {
    hawkeye::cli::RunEnding e;
    e.interrupted = interrupted;
    e.resume_hint = "continue with --resume";
    e.inputs = inputs;
    e.answered = answered;
    e.parsed = parsed;
    e.failed = failed;
    e.details = "their \"status\"";
    return e;
  };
  std::vector<Case> cases = {
      {ending(false, 4, 4, 4, 0), 0, ""},
      {ending(true, 4, 4, 1, 2), 130, "hawkeye: interrupted; continue with --resume"},
      {ending(false, 4, 3, 0, 4), 13, "hawkeye: no answer of the model could be parsed (see their \"status\")"},
      {ending(false, 4, 3, 2, 2), 12, "hawkeye: 2 of 4 images failed (see their \"status\")"},
      {ending(false, 1, 0, 0, 1), 12, "hawkeye: 1 of 1 image failed: not loaded (see"},  // metric: no model answers
  };
  cases.back().e.breakdown = "not loaded";
  for (const auto& c : cases) {
    hawkeye::cli::Context ctx;
    ctx.exit_code = -1;
    testing::internal::CaptureStderr();
    hawkeye::cli::end_run(ctx, c.e);
    const std::string said = testing::internal::GetCapturedStderr();
    EXPECT_EQ(ctx.exit_code, c.status) << c.said;
    if (*c.said == '\0') EXPECT_EQ(said, "");
    else EXPECT_NE(said.find(c.said), std::string::npos) << said;
  }
}

// Issue 20 §1 / 19: `cmake --install --prefix P` gives a working hawkeye and Python module wherever P is: the
// library finds P/share/hawkeye from where it is loaded (core/version.h installed_data_dir), not only the prefix
// configured at build time. The installed model is renamed, so only the installation can hold it.
TEST(CliSlow, AnInstallAtAnyPrefixFindsItsOwnModels) {
  const fs::path build = fs::path(HAWKEYE_CLI).parent_path();
  if (!fs::exists(build / "cmake_install.cmake")) GTEST_SKIP() << "no build tree with install rules at " << build;
  test::TempDir dir;
  const fs::path prefix = dir.path() / "prefix with space";
  const auto install = test::run_command("cmake --install '" + build.string() + "' --prefix '" + prefix.string() + "' 2>&1");
  ASSERT_EQ(install.status, 0) << install.output;
  const fs::path models = prefix / "share" / "hawkeye" / "models";
  ASSERT_TRUE(fs::is_directory(models / "hawkeye-tiny")) << install.output;
  fs::rename(models / "hawkeye-tiny", models / "installed-tiny");
  const auto listed = test::run_command("cd / && env -u HAWKEYE_MODEL_PATH '" + (prefix / "bin" / "hawkeye").string() +
                                        "' models --json 2>&1");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_NE(listed.output.find("\"name\":\"installed-tiny\""), std::string::npos) << listed.output;
  const auto scored = test::run_command("cd / && env -u HAWKEYE_MODEL_PATH '" + (prefix / "bin" / "hawkeye").string() +
                                        "' --threads 1 score --model installed-tiny --format jsonl '" +
                                        (test::source_dir() / "examples" / "plane-pristine.png").string() + "' 2>&1");
  ASSERT_EQ(scored.status, 0) << scored.output;
  EXPECT_NE(scored.output.find("\"status\":\"ok\""), std::string::npos) << scored.output;
  const fs::path site = prefix / "lib" / "python3" / "dist-packages";
  if (fs::exists(site / "hawkeye") && fs::exists("/usr/bin/python3")) {
    const auto py = test::run_command("cd / && env -u HAWKEYE_MODEL_PATH PYTHONPATH='" + site.string() +
                                      "' /usr/bin/python3 -c 'import hawkeye; print(hawkeye.__file__); print(hawkeye.list_models())' 2>&1");
    ASSERT_EQ(py.status, 0) << py.output;
    EXPECT_NE(py.output.find(site.string()), std::string::npos) << "the installed module was imported: " << py.output;
    EXPECT_NE(py.output.find("installed-tiny"), std::string::npos) << py.output;
  }
}
