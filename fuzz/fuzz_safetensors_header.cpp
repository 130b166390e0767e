// Fuzz target: the safetensors header parser on arbitrary files. The parser must either accept a header
// whose every tensor lies inside the data area (ordered, non-overlapping, byte length = numel x dtype size)
// or throw hawkeye::Error; anything else (a crash, an escaped foreign exception, a tensor outside the
// file) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hawkeye/core/error.h"
#include "hawkeye/core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  try {
    const hawkeye::StHeader h = hawkeye::parse_safetensors_header(file, size, "fuzz.safetensors");
    if (h.data_offset != 8 + h.header_bytes || h.data_offset > size) __builtin_trap();
    const std::uint64_t data_bytes = size - h.data_offset;
    std::uint64_t prev_end = 0;
    for (const auto& t : h.tensors) {
      if (t.begin > t.end || t.end > data_bytes || t.begin < prev_end) __builtin_trap();
      prev_end = t.end;
    }
  } catch (const hawkeye::Error&) {
  }
  return 0;
}
