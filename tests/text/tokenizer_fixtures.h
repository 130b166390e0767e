// Small tokenizer.json documents built in the tests: 256 byte tokens, merges given as raw byte strings,
// optional added tokens and pre-tokenizer. The ByteLevel alphabet is written out here independently of
// the library (GPT-2's bytes_to_unicode), so the loader's own table is checked against it.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace hawkeye::test {

inline std::string byte_level(std::string_view raw) {
  std::string out;
  for (unsigned char b : raw) {
    unsigned cp = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))) {
      unsigned n = 0;  // index among the non-printable bytes, in byte order
      for (unsigned x = 0; x < b; ++x) {
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) ++n;
      }
      cp = 256 + n;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

inline const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct TinyTokenizer {
  std::vector<std::pair<std::string, std::string>> merges;  // raw bytes, in rank order
  nlohmann::json added_tokens = nlohmann::json::array();
  nlohmann::json normalizer = {{"type", "NFC"}};
  nlohmann::json pre_tokenizer = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", kQwenPattern}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};

  // Id of a raw token in json() (bytes first, then merge results in merge order).
  nlohmann::json json() const {
    nlohmann::json vocab = nlohmann::json::object();
    int next = 0;
    for (int b = 0; b < 256; ++b) vocab[byte_level(std::string(1, static_cast<char>(b)))] = next++;
    nlohmann::json m = nlohmann::json::array();
    for (const auto& [a, b] : merges) {
      const std::string merged = byte_level(a + b);
      if (!vocab.contains(merged)) vocab[merged] = next++;
      m.push_back(byte_level(a) + " " + byte_level(b));
    }
    nlohmann::json byte_level_step = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added_tokens},
            {"normalizer", normalizer},
            {"pre_tokenizer", pre_tokenizer},
            {"post_processor", byte_level_step},
            {"decoder", byte_level_step},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", ""},
              {"end_of_word_suffix", ""},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"vocab", vocab},
              {"merges", m}}}};
  }
  std::string text() const { return json().dump(); }
};

inline nlohmann::json added_token(int id, const std::string& content, bool special, bool lstrip = false,
                                  bool rstrip = false, bool normalized = false, bool single_word = false) {
  return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

}  // namespace hawkeye::test
