// hawkeye's byte tokenizer: the shipped resource is the generator's output, the ids are the documented
// ones, and every byte string survives encode/decode.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/text/byte_tokenizer.h"
#include "test_util.h"

using namespace hawkeye;

namespace {
const fs::path kResource = test::source_dir() / "resources" / "tokenizers" / "hawkeye-byte" / "tokenizer.json";
}

TEST(ByteTokenizer, ShippedResourceMatchesTheGenerator) {
  // HAWKEYE_UPDATE_RESOURCES=1 rewrites the resource from the generator.
  if (const char* u = std::getenv("HAWKEYE_UPDATE_RESOURCES"); u && std::string(u) == "1") {
    fs::create_directories(kResource.parent_path());
    write_file_atomic(kResource, byte_tokenizer::tokenizer_json());
  }
  ASSERT_TRUE(fs::exists(kResource)) << kResource;
  EXPECT_EQ(read_file(kResource), byte_tokenizer::tokenizer_json())
      << "regenerate with: HAWKEYE_UPDATE_RESOURCES=1 test_text --gtest_filter=ByteTokenizer.*";
  EXPECT_EQ(byte_tokenizer::tokenizer_json(), byte_tokenizer::tokenizer_json());
  const Tokenizer from_file = Tokenizer::load(kResource.parent_path());
  EXPECT_EQ(from_file.vocab_size(), byte_tokenizer::kVocabSize);
}

TEST(ByteTokenizer, DocumentedIds) {
  const Tokenizer tok = byte_tokenizer::make_tokenizer();
  EXPECT_EQ(tok.vocab_size(), byte_tokenizer::kVocabSize);
  EXPECT_EQ(tok.model_vocab_size(), 256u);
  EXPECT_EQ(tok.merge_count(), 0u);
  const std::vector<std::pair<const char*, TokenId>> specials = {
      {"<|endoftext|>", byte_tokenizer::kEndOfText}, {"<|im_start|>", byte_tokenizer::kImStart},
      {"<|im_end|>", byte_tokenizer::kImEnd},         {"<|vision_start|>", byte_tokenizer::kVisionStart},
      {"<|vision_end|>", byte_tokenizer::kVisionEnd}, {"<|image_pad|>", byte_tokenizer::kImagePad}};
  for (const auto& [token, id] : specials) {
    EXPECT_EQ(tok.token_to_id(token), id) << token;
    EXPECT_TRUE(tok.is_special(id)) << token;
  }
  const std::vector<std::pair<const char*, TokenId>> tags = {{"<think>", byte_tokenizer::kThinkOpen},
                                                              {"</think>", byte_tokenizer::kThinkClose},
                                                              {"<answer>", byte_tokenizer::kAnswerOpen},
                                                              {"</answer>", byte_tokenizer::kAnswerClose}};
  for (const auto& [token, id] : tags) {
    EXPECT_EQ(tok.token_to_id(token), id) << token;
    EXPECT_FALSE(tok.is_special(id)) << token;
    EXPECT_FALSE(tok.added_token(id)->normalized) << token;
  }
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tok.token_bytes(b), std::string(1, static_cast<char>(b)));
}

TEST(ByteTokenizer, AnswerTagsAreSingleTokens) {
  const Tokenizer tok = byte_tokenizer::make_tokenizer();
  using namespace byte_tokenizer;
  EXPECT_EQ(tok.encode("<think>ok</think><answer>3.5</answer>"),
            (std::vector<TokenId>{kThinkOpen, 'o', 'k', kThinkClose, kAnswerOpen, '3', '.', '5', kAnswerClose}));
  // Tags stay when special tokens are skipped or not allowed.
  EXPECT_EQ(tok.encode("<answer>", false), (std::vector<TokenId>{kAnswerOpen}));
  EXPECT_EQ(tok.decode(std::vector<TokenId>{kImStart, kAnswerOpen, '4', kAnswerClose, kImEnd}, true), "<answer>4</answer>");
  EXPECT_EQ(tok.encode("<|im_end|>", false).size(), 10u);
}

TEST(ByteTokenizer, EveryByteStringRoundTrips) {
  const Tokenizer tok = byte_tokenizer::make_tokenizer();
  Rng rng(17);
  for (int i = 0; i < 300; ++i) {
    std::string s;
    const std::size_t n = rng.below(200);
    for (std::size_t k = 0; k < n; ++k) s.push_back(static_cast<char>(rng.below(256)));
    const auto ids = tok.encode(s);
    EXPECT_EQ(tok.decode_bytes(ids), normalize_nfc(s));
    for (TokenId id : ids) EXPECT_LT(id, 256);  // random bytes never spell a tag of 7+ bytes here
  }
  EXPECT_EQ(tok.decode(tok.encode("Qualität: 4.5 \xF0\x9F\x91\x8D")), "Qualität: 4.5 \xF0\x9F\x91\x8D");
}
