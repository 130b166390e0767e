// Small string helpers shared by the layers (one definition each).
#pragma once
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

// `s` without the ASCII whitespace (std::isspace in the C locale: space, \t, \n, \v, \f, \r) at both ends.
inline std::string_view trim_space(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` by edit_distance (ties: the first), or "" when none is within
// `max_distance` (default: a third of the word's length, at least 1, at most 3): what "did you mean" offers.
std::string closest_name(std::string_view word, const std::vector<std::string>& candidates, std::size_t max_distance = 0);

// "1 image", "2 images": a count with its noun, plural when the count is not 1 (`plural` when not noun + "s").
std::string count_of(std::size_t n, std::string_view noun, std::string_view plural = {});

// `s` cut at every `sep`: "a:b::c" -> {"a", "b", "", "c"}; "" -> {""}.
std::vector<std::string> split_on(std::string_view s, char sep);

// ASCII lower case.
std::string ascii_lower(std::string_view s);

}  // namespace hawkeye
