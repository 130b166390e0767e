// Fuzz target: answer parsing and the text rewards on arbitrary completions. Checks the invariants:
// under both reward rules, rewards stay in range, a strict format implies a parsed score, a parse failure
// earns no accuracy, every score read is within the range.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hawkeye/text/answer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const double target = 1.0 + 4.0 * data[0] / 255.0;
  const std::string_view completion(reinterpret_cast<const char*>(data + 1), size - 1);
  for (const auto rule : {hawkeye::RewardRule::reference, hawkeye::RewardRule::strict}) {
    hawkeye::RewardConfig config;
    config.rule = rule;
    const hawkeye::TextRewards r = hawkeye::text_rewards(completion, target, config);
    if (!(r.total() >= -2.0 && r.total() <= 1.8)) __builtin_trap();
    if (r.accuracy < 0.0 || r.accuracy > 1.0 || std::isnan(r.accuracy)) __builtin_trap();
    if (!r.answer.ok() && r.accuracy != 0.0) __builtin_trap();
    // the strict format implies a readable score (a too_large one aside)
    if (rule == hawkeye::RewardRule::strict && r.format > 0.0 && !r.answer.ok() && r.answer.status != hawkeye::ScoreStatus::too_large) {
      __builtin_trap();
    }
    if (r.answer.ok() && !(r.answer.value >= config.range.lo && r.answer.value <= config.range.hi)) __builtin_trap();
    const hawkeye::ScoreReading u = hawkeye::uado_reading(completion, config);
    if (u.ok() && !(u.value >= config.range.lo && u.value <= config.range.hi)) __builtin_trap();
    (void)hawkeye::score_status_name(r.answer.status);
  }
  return 0;
}
