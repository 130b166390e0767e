// Fuzz target: answer parsing and the text rewards on arbitrary completions. Checks the invariants:
// rewards stay in range, a strict format implies a parsed score, a parse failure earns no accuracy.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hawkeye/text/answer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const double target = 1.0 + 4.0 * data[0] / 255.0;
  const std::string_view completion(reinterpret_cast<const char*>(data + 1), size - 1);
  const hawkeye::TextRewards r = hawkeye::text_rewards(completion, target);
  if (!(r.total() >= -2.0 && r.total() <= 1.8)) __builtin_trap();
  if (r.accuracy < 0.0 || r.accuracy > 1.0 || std::isnan(r.accuracy)) __builtin_trap();
  if (!r.answer.ok() && r.accuracy != 0.0) __builtin_trap();
  if (r.format > 0.0 && !r.answer.ok()) __builtin_trap();
  if (r.answer.ok() && !std::isfinite(r.answer.score)) __builtin_trap();
  if (r.answer.content_end < r.answer.content_begin || r.answer.content_end > completion.size()) __builtin_trap();
  (void)hawkeye::answer_status_name(r.answer.status);
  return 0;
}
