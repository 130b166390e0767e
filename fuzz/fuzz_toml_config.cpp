// Fuzz target: config files (TOML through toml++ into hawkeye's JSON tree) and key=value overrides. Parsing must
// either give a Config or throw hawkeye::Error (toml++'s own parse errors included, converted); and hawkeye's own
// TOML writer must write what parses back to the same tree (the checkpoint's config.toml round trip: resuming
// compares a run's config with the one it wrote).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hawkeye/core/config.h"
#include "hawkeye/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hawkeye::Config c;
  try {
    c = hawkeye::Config::parse_toml(text, "fuzz.toml");
  } catch (const hawkeye::Error&) {
    // not a config: also try the text as one override, as `hawkeye train … key=value` takes it
    try {
      hawkeye::Config o;
      o.apply_override(text.substr(0, 4096));
    } catch (const hawkeye::Error&) {
    }
    return 0;
  }
  std::string written;
  try {
    written = c.to_toml();
  } catch (const hawkeye::Error&) {
    return 0;  // a value TOML cannot hold (refused with a message) is not a finding
  }
  const hawkeye::Config back = hawkeye::Config::parse_toml(written, "round-trip.toml");  // must not throw
  // compared as text: NaN (valid TOML) never equals itself, and dump() writes both sides' NaN as null
  if (back.root().dump() != c.root().dump()) __builtin_trap();
  return 0;
}
