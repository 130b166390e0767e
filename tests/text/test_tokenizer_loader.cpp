// A broken tokenizer.json gives a clear error that names the field; never a crash.
#include <gtest/gtest.h>

#include <fstream>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/text/byte_tokenizer.h"
#include "hawkeye/text/tokenizer.h"
#include "test_util.h"
#include "text/tokenizer_fixtures.h"

using namespace hawkeye;
using nlohmann::json;

namespace {

json base() {
  test::TinyTokenizer t;
  t.merges = {{"a", "b"}};
  t.added_tokens.push_back(test::added_token(300, "<|im_end|>", true));
  return t.json();
}

// Loads the text and returns the error (fails the test when it loads).
Error load_error(const std::string& text) {
  try {
    Tokenizer::from_json(text, "bad.json");
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a hawkeye::Error: " << e.what();
    return Error(ErrorCode::internal, e.what());
  }
  ADD_FAILURE() << "loaded: " << text.substr(0, 200);
  return Error(ErrorCode::internal, "loaded");
}

void expect_error(const json& j, ErrorCode code, const std::string& needle) {
  const Error e = load_error(j.dump());
  EXPECT_EQ(e.code(), code) << e.what();
  EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' not in: " << e.what();
  EXPECT_EQ(std::string(e.what()).rfind("bad.json: ", 0), 0u) << e.what();
}

}  // namespace

TEST(TokenizerLoader, TheBaseFixtureLoads) { EXPECT_EQ(Tokenizer::from_json(base().dump()).vocab_size(), 301u); }

TEST(TokenizerLoader, RejectsTextThatIsNotJson) {
  for (const char* text : {"", "{", "not json", "{\"model\": }", "\xFF\xFE"}) {
    const Error e = load_error(text);
    EXPECT_EQ(e.code(), ErrorCode::parse) << e.what();
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
}

TEST(TokenizerLoader, RejectsAWrongTopLevel) {
  expect_error(json::array(), ErrorCode::corrupt_data, "top level");
  json j = base();
  j.erase("model");
  expect_error(j, ErrorCode::corrupt_data, "model: missing");
  j["model"] = "BPE";
  expect_error(j, ErrorCode::corrupt_data, "model: expected an object");
}

TEST(TokenizerLoader, RejectsUnsupportedModelTypes) {
  json j = base();
  j["model"]["type"] = "WordPiece";
  expect_error(j, ErrorCode::unsupported, "model.type: \"WordPiece\" is not supported");
  j["model"].erase("type");
  expect_error(j, ErrorCode::corrupt_data, "model.type: missing");
  j["model"]["type"] = 7;
  expect_error(j, ErrorCode::corrupt_data, "model.type: expected a string");
}

TEST(TokenizerLoader, RejectsIdsThatAreNotSmallIntegers) {
  for (const json& id : {json(1e308), json(-1), json(3.5), json("7"), json(nullptr), json(1LL << 40)}) {
    json j = base();
    j["model"]["vocab"]["ab"] = id;
    expect_error(j, ErrorCode::corrupt_data, "model.vocab[\"ab\"]: a token id must be an integer");
  }
  // The raw text "1e308" too (nlohmann reads it as a float).
  std::string text = base().dump();
  const std::string key = "\"ab\":256";
  ASSERT_NE(text.find(key), std::string::npos);
  text.replace(text.find(key), key.size(), "\"ab\":1e308");
  const Error e = load_error(text);
  EXPECT_NE(std::string(e.what()).find("model.vocab[\"ab\"]"), std::string::npos) << e.what();
  // 2e308 is beyond a double: nlohmann's own number overflow becomes a parse error (found by fuzzing).
  text.replace(text.find("1e308"), 5, "2e308");
  const Error overflow = load_error(text);
  EXPECT_EQ(overflow.code(), ErrorCode::parse) << overflow.what();
  EXPECT_NE(std::string(overflow.what()).find("2e308"), std::string::npos) << overflow.what();
}

TEST(TokenizerLoader, RejectsIdsFarBeyondTheVocabulary) {
  // Ids index dense tables: a vocabulary of 258 tokens may not use id 10,000,000.
  json j = base();
  j["model"]["vocab"]["ab"] = 10'000'000;
  expect_error(j, ErrorCode::corrupt_data, "model.vocab[\"ab\"]: id 10000000 is too large");
  j = base();
  j["added_tokens"][0]["id"] = Tokenizer::kMaxTokenId;
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[0].id: id 16777215 is too large");
  j = base();
  j["added_tokens"][0]["id"] = 60000;  // sparse but small: allowed
  EXPECT_EQ(Tokenizer::from_json(j.dump()).vocab_size(), 60001u);
}

TEST(TokenizerLoader, RejectsDuplicateIdsAndKeys) {
  json j = base();
  j["model"]["vocab"]["ab"] = 97;  // also "a"
  expect_error(j, ErrorCode::corrupt_data, "id 97 is used by both");
  std::string text = base().dump();
  const std::string key = "\"ab\":256";
  text.replace(text.find(key), key.size(), "\"ab\":256,\"ab\":257");
  const Error e = load_error(text);
  EXPECT_EQ(e.code(), ErrorCode::corrupt_data);
  EXPECT_NE(std::string(e.what()).find("model.vocab: duplicate key \"ab\""), std::string::npos) << e.what();
}

TEST(TokenizerLoader, RejectsMergesThatReferToUnknownTokens) {
  json j = base();
  j["model"]["merges"].push_back("x zz");
  expect_error(j, ErrorCode::corrupt_data, "model.merges[1]: \"zz\" is not in model.vocab");
  j = base();
  j["model"]["merges"].push_back("b a");  // "ba" is not in the vocabulary
  expect_error(j, ErrorCode::corrupt_data, "model.merges[1]: the merged token \"ba\" is not in model.vocab");
  j = base();
  j["model"]["merges"].push_back("a b");
  expect_error(j, ErrorCode::corrupt_data, "model.merges[1]: duplicate of model.merges[0]");
  for (const json& m : {json("ab"), json("a b c"), json(" a"), json(3), json::array({"a"}), json::array({"a", 1})}) {
    j = base();
    j["model"]["merges"].push_back(m);
    expect_error(j, ErrorCode::corrupt_data, "model.merges[1]: expected");
  }
  j = base();
  j["model"]["merges"] = json::array({json::array({"a", "b"})});  // the newer pair form is accepted
  EXPECT_NO_THROW(Tokenizer::from_json(j.dump()));
  j["model"]["merges"] = "a b";
  expect_error(j, ErrorCode::corrupt_data, "model.merges: expected an array");
}

TEST(TokenizerLoader, RejectsAVocabularyThatIsNotByteLevel) {
  json j = base();
  j["model"]["vocab"]["a b"] = 400;  // a literal space is not in the ByteLevel alphabet
  expect_error(j, ErrorCode::corrupt_data, "character U+0020 is not in the ByteLevel alphabet");
  j = base();
  j["model"]["vocab"].erase(test::byte_level("\n"));
  expect_error(j, ErrorCode::corrupt_data, "no token for byte 0x0A");
  j = base();
  j["model"]["vocab"] = json::object();
  expect_error(j, ErrorCode::corrupt_data, "model.vocab: is empty");
  j["model"]["vocab"] = json::array();
  expect_error(j, ErrorCode::corrupt_data, "model.vocab: expected an object");
}

TEST(TokenizerLoader, RejectsBrokenAddedTokens) {
  json j = base();
  j["added_tokens"][0]["content"] = "";
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[0].content: is empty");
  j = base();
  j["added_tokens"][0]["special"] = "yes";
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[0].special: expected true or false");
  j = base();
  j["added_tokens"][0].erase("id");
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[0].id: missing");
  j = base();
  j["added_tokens"][0]["id"] = 1e308;
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[0].id: a token id must be an integer");
  j = base();
  j["added_tokens"].push_back(test::added_token(301, "<|im_end|>", true));
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[1].content: \"<|im_end|>\" is already added_tokens[0]");
  j = base();
  j["added_tokens"].push_back(test::added_token(300, "<|other|>", true));
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[1].id: 300 is already used");
  j = base();
  j["added_tokens"].push_back(test::added_token(97, "<|x|>", true));
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[1].id: 97 is model.vocab token \"a\"");
  j = base();
  j["added_tokens"].push_back(test::added_token(400, "ab", false));
  expect_error(j, ErrorCode::corrupt_data, "added_tokens[1]: \"ab\" has id 400 but model.vocab gives it id 256");
  j = base();
  j["added_tokens"] = json::object();
  expect_error(j, ErrorCode::corrupt_data, "added_tokens: expected an array");
}

TEST(TokenizerLoader, RejectsPipelinesItCannotRunExactly) {
  json j = base();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_error(j, ErrorCode::unsupported, "normalizer.type: \"Lowercase\" is not supported");
  j = base();
  j["pre_tokenizer"] = nullptr;
  expect_error(j, ErrorCode::unsupported, "pre_tokenizer: no ByteLevel pre-tokenizer");
  j = base();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  expect_error(j, ErrorCode::parse, "pre_tokenizer.pretokenizers[0].pattern: invalid regex");
  j = base();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
  expect_error(j, ErrorCode::unsupported, "pre_tokenizer.pretokenizers[0].behavior");
  j = base();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Other", "x"}};
  expect_error(j, ErrorCode::corrupt_data, "pre_tokenizer.pretokenizers[0].pattern: expected {\"Regex\"");
  j = base();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_error(j, ErrorCode::unsupported, "decoder.type");
  j = base();
  j.erase("decoder");
  expect_error(j, ErrorCode::corrupt_data, "decoder: missing");
  j = base();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  expect_error(j, ErrorCode::unsupported, "post_processor.type");
  j = base();
  j["truncation"] = {{"max_length", 8}};
  expect_error(j, ErrorCode::unsupported, "truncation: must be null");
  j = base();
  j["model"]["dropout"] = 0.1;
  expect_error(j, ErrorCode::unsupported, "model.dropout");
  j = base();
  j["model"]["continuing_subword_prefix"] = "##";
  expect_error(j, ErrorCode::unsupported, "model.continuing_subword_prefix");
}

TEST(TokenizerLoader, FilesAndModelDirectories) {
  test::TempDir dir;
  try {
    Tokenizer::load(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos);
  }
  try {
    Tokenizer::load(dir.path() / "missing.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
  std::ofstream(dir.path() / "tokenizer.json") << base().dump();
  EXPECT_EQ(Tokenizer::load(dir.path()).vocab_size(), 301u);
  EXPECT_EQ(Tokenizer::load(dir.path()).source(), (dir.path() / "tokenizer.json").string());
  TokenizerLimits small;
  small.max_file_bytes = 100;
  try {
    Tokenizer::load(dir.path(), small);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
  }
}

TEST(TokenizerLoader, RandomDamageGivesErrorsNotCrashes) {
  const std::string good = byte_tokenizer::tokenizer_json();
  Rng rng(2024);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int k = 0; k < edits; ++k) {
      const std::size_t pos = rng.below(text.size());
      switch (rng.below(4)) {
        case 0: text[pos] = static_cast<char>(rng.below(256)); break;
        case 1: text.erase(pos, 1 + rng.below(20)); break;
        case 2: text.insert(pos, 1, "{}[],:\"0e-"[rng.below(10)]); break;
        default: text.resize(pos); break;
      }
    }
    try {
      const Tokenizer tok = Tokenizer::from_json(text);
      tok.decode(tok.encode("<think>ok</think> é \xFF"));
      ++loaded;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_EQ(loaded + rejected, 1500);
}
