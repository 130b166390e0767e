// Private: GPT-2's byte-to-unicode alphabet (the ByteLevel pre-tokenizer/decoder of Hugging Face
// tokenizers). Printable bytes map to themselves ('!'..'~', '¡'..'¬', '®'..'ÿ'); the other 68 bytes map,
// in byte order, to U+0100, U+0101, ... So the space 0x20 is 'Ġ' (U+0120) and '\n' is 'Ċ' (U+010A).
#pragma once
#include <array>
#include <cstdint>

namespace hawkeye::text_detail {

struct ByteLevelAlphabet {
  std::array<char32_t, 256> byte_to_char{};
  std::array<int16_t, 324> char_to_byte{};  // -1 where the code point is not in the alphabet

  constexpr ByteLevelAlphabet() {
    for (auto& v : char_to_byte) v = -1;
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      byte_to_char[b] = c;
      char_to_byte[c] = static_cast<int16_t>(b);
    }
  }
  // The byte for a code point of the alphabet, or -1.
  constexpr int byte_of(char32_t c) const { return c < char_to_byte.size() ? char_to_byte[c] : -1; }
};

inline constexpr ByteLevelAlphabet kByteLevel{};

}  // namespace hawkeye::text_detail
