// Fuzz target: any bytes given to the tokenizer.json loader load or give a hawkeye::Error; a tokenizer
// that loads encodes and decodes (a slice of) the same bytes. Any other exception, crash, leak, hang or
// undefined behaviour is a finding. Seeds: fuzz/corpus/tokenizer_loader; dictionary: fuzz/tokenizer.dict.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hawkeye/core/error.h"
#include "hawkeye/text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const hawkeye::Tokenizer tok = hawkeye::Tokenizer::from_json(bytes, "fuzz");
    const std::string_view text = bytes.substr(0, 512);
    for (bool allow_special : {true, false}) {
      const auto ids = tok.encode(text, allow_special);
      for (auto id : ids) {
        // Every id the encoder makes is in the vocabulary and has a token string.
        if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size() || !tok.id_to_token(id)) __builtin_trap();
      }
      (void)tok.decode_bytes(ids);
      (void)tok.decode(ids, true);
    }
  } catch (const hawkeye::Error&) {
  }
  return 0;
}
