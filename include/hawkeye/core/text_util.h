// Small string helpers shared by the layers (one definition each).
#pragma once
#include <cctype>
#include <string_view>

namespace hawkeye {

// `s` without the ASCII whitespace (std::isspace in the C locale: space, \t, \n, \v, \f, \r) at both ends.
inline std::string_view trim_space(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace hawkeye
