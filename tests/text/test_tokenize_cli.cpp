// `hawkeye tokenize` end to end (runs the built binary; skipped when the CLI is not part of the build).
// Labelled slow: each run of the binary loads libtorch (~1 s here).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

using nlohmann::json;

namespace {

std::string cli() { return HAWKEYE_CLI; }

#define REQUIRE_CLI()                                                                   \
  if (cli().empty() || !std::filesystem::exists(cli())) GTEST_SKIP() << "hawkeye CLI not built"

std::vector<json> lines(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

}  // namespace

TEST(TokenizeCliSlow, EncodesEachTextAsOneJsonLine) {
  REQUIRE_CLI();
  const auto r = hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte '<think>ok</think>' '[a,b]' --tokens");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto v = lines(r.output);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["ids"], json::array({262, 111, 107, 263}));
  EXPECT_EQ(v[0]["tokens"][0], "<think>");
  EXPECT_EQ(v[1]["text"], "[a,b]");  // not split into two arguments
  EXPECT_EQ(v[1]["count"], 5);
}

TEST(TokenizeCliSlow, DecodesIdLists) {
  REQUIRE_CLI();
  const auto r = hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --decode '[257, 104, 105]' "
                                                    "'257,104' --skip-special");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto v = lines(r.output);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["text"], "hi");
  EXPECT_EQ(v[1]["ids"], json::array({257, 104}));
}

TEST(TokenizeCliSlow, RendersPromptsFromPresetsAndHawkeyeJson) {
  REQUIRE_CLI();
  auto r = hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --prompt qhawkeye-infer --image-tokens 3");
  ASSERT_EQ(r.status, 0) << r.output;
  json j = json::parse(r.output);
  EXPECT_EQ(j["prompt"], "qhawkeye-infer");
  EXPECT_EQ(j["images"][0]["count"], 3);
  EXPECT_EQ(j["ids"].size(), j["count"].get<std::size_t>());
  hawkeye::test::TempDir dir;
  std::ofstream(dir.path() / "hawkeye.json") << R"({"prompt": {"user": "Rate it.", "image_position": "after_text"}})";
  r = hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --prompt " + dir.path().string());
  ASSERT_EQ(r.status, 0) << r.output;
  j = json::parse(r.output);
  EXPECT_EQ(j["text"], "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nRate it."
                       "<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n");
}

TEST(TokenizeCliSlow, ErrorsHaveExitStatuses) {
  REQUIRE_CLI();
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer /nonexistent/t.json x 2>/dev/null").status, 3);
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --decode 1,x 2>/dev/null").status, 2);
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --decode 99999 2>/dev/null").status, 2);
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --bogus x 2>/dev/null").status, 2);
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer hawkeye-byte --prompt nope 2>/dev/null").status, 3);
  hawkeye::test::TempDir dir;
  std::ofstream(dir.path() / "tokenizer.json") << "{\"model\": ";
  EXPECT_EQ(hawkeye::test::run_command(cli() + " tokenize --tokenizer " + dir.path().string() + " x 2>/dev/null").status, 8);
}
