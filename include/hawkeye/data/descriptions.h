// Short natural-language accounts of a KADID distortion and its severity ("strong gaussian blur, edges
// smeared", "mild jpeg blocking"), the target text of supervised warm-start. Short on purpose (at most 50
// characters, at least 15): the tiny model is byte-level, so every character is a generated token. The severity words
// follow the human label of the (type, level), not the level number, so they agree with the score.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

inline constexpr std::size_t kMinDescriptionLength = 15;
inline constexpr std::size_t kMaxDescriptionLength = 50;

// The severity word band of a label in [1, 5]: "barely visible" (>= 4.4), "slight" (>= 3.8),
// "moderate" (>= 3.0), "strong" (>= 2.2), "severe" (below).
std::string_view severity_band(double label);

// Every phrasing for KADID type (1..25) at level (1..5) with the given label, sorted, without duplicates.
std::vector<std::string> kadid_description_variants(int type, int level, double label);

// One of the variants, chosen by the seed.
std::string describe_kadid(int type, int level, double label, std::uint64_t seed);

}  // namespace hawkeye
