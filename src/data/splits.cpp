#include "hawkeye/data/splits.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"

namespace hawkeye {

SplitFractions parse_split_fractions(std::string_view spec) {
  SplitFractions out;
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::invalid_argument, "split spec '" + std::string(spec) + "': " + why + " (e.g. train=0.8,test=0.2)");
  };
  std::size_t start = 0;
  double total = 0;
  while (start <= spec.size()) {
    const std::size_t comma = spec.find(',', start);
    const std::string_view item = spec.substr(start, (comma == std::string_view::npos ? spec.size() : comma) - start);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw bad("'" + std::string(item) + "' has no '='");
    const std::string name(item.substr(0, eq));
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        })) {
      throw bad("split name '" + name + "' must be lowercase letters, digits, '_' or '-'");
    }
    for (const auto& p : out)
      if (p.first == name) throw bad("split '" + name + "' appears twice");
    const std::string_view num = item.substr(eq + 1);
    double f = 0;
    const auto r = std::from_chars(num.data(), num.data() + num.size(), f);
    if (r.ec != std::errc() || r.ptr != num.data() + num.size() || !std::isfinite(f) || f <= 0 || f > 1) {
      throw bad("fraction '" + std::string(num) + "' of '" + name + "' must be a number in (0, 1]");
    }
    out.emplace_back(name, f);
    total += f;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (std::abs(total - 1.0) > 1e-6) throw bad("fractions sum to " + std::to_string(total) + ", not 1");
  return out;
}

std::map<std::string, std::string> assign_splits(std::vector<std::string> keys, const SplitFractions& fractions,
                                                 std::uint64_t seed) {
  require(!fractions.empty(), ErrorCode::invalid_argument, "assign_splits: no splits given");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  Rng rng(derive_seed(seed, "splits"));
  for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[rng.below(i)]);
  // Largest-remainder rounding of n * fraction.
  const std::size_t n = keys.size(), parts = fractions.size();
  std::vector<std::size_t> count(parts);
  std::vector<std::pair<double, std::size_t>> remainder;
  std::size_t used = 0;
  for (std::size_t i = 0; i < parts; ++i) {
    const double exact = static_cast<double>(n) * fractions[i].second;
    count[i] = static_cast<std::size_t>(std::floor(exact));
    used += count[i];
    remainder.emplace_back(exact - std::floor(exact), i);
  }
  std::stable_sort(remainder.begin(), remainder.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; used < n; ++k, ++used) ++count[remainder[k % parts].second];
  // Every split gets at least one key when there are enough, taken from the largest split.
  if (n >= parts) {
    for (std::size_t i = 0; i < parts; ++i) {
      if (count[i] > 0) continue;
      const auto big = static_cast<std::size_t>(std::max_element(count.begin(), count.end()) - count.begin());
      --count[big];
      ++count[i];
    }
  }
  std::map<std::string, std::string> out;
  std::size_t k = 0;
  for (std::size_t i = 0; i < parts; ++i)
    for (std::size_t c = 0; c < count[i]; ++c) out[keys[k++]] = fractions[i].first;
  return out;
}

const std::string& split_key(const ManifestRow& row) { return row.reference.empty() ? row.image : row.reference; }

std::map<std::string, std::string> apply_splits(Manifest& manifest, const SplitFractions& fractions, std::uint64_t seed) {
  std::vector<std::string> keys;
  keys.reserve(manifest.rows.size());
  for (const auto& r : manifest.rows) keys.push_back(split_key(r));
  auto assignment = assign_splits(std::move(keys), fractions, seed);
  for (auto& r : manifest.rows) r.split = assignment.at(split_key(r));
  return assignment;
}

void check_splits_by_reference(const Manifest& manifest) {
  std::map<std::string, const ManifestRow*> first;
  for (const auto& r : manifest.rows) {
    const auto [it, fresh] = first.emplace(split_key(r), &r);
    if (!fresh && it->second->split != r.split) {
      throw Error(ErrorCode::parse, manifest.where(r) + ": reference '" + split_key(r) + "' is in split '" + r.split +
                                        "' here but in '" + it->second->split + "' on line " +
                                        std::to_string(it->second->line));
    }
  }
}

void write_split_file(const std::filesystem::path& path, const std::map<std::string, std::string>& assignment,
                      const SplitFractions& fractions, std::uint64_t seed) {
  nlohmann::ordered_json j;
  j["seed"] = seed;
  j["by"] = "reference";
  j["fractions"] = nlohmann::ordered_json::object();
  j["splits"] = nlohmann::ordered_json::object();
  for (const auto& [name, f] : fractions) {
    j["fractions"][name] = f;
    j["splits"][name] = nlohmann::ordered_json::array();
  }
  for (const auto& [key, split] : assignment) j["splits"][split].push_back(key);
  write_file_atomic(path, j.dump(2) + "\n");
}

std::map<std::string, std::string> read_split_file(const std::filesystem::path& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path, 256ull << 20));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::parse, path.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("splits") || !j["splits"].is_object()) {
    throw Error(ErrorCode::parse, path.string() + ": expected an object with a \"splits\" object");
  }
  std::map<std::string, std::string> out;
  for (auto it = j["splits"].begin(); it != j["splits"].end(); ++it) {
    if (!it->is_array()) throw Error(ErrorCode::parse, path.string() + ": split '" + it.key() + "' is not a list");
    for (const auto& k : *it) {
      if (!k.is_string()) throw Error(ErrorCode::parse, path.string() + ": split '" + it.key() + "' holds a non-string entry");
      const auto [pos, fresh] = out.emplace(k.get<std::string>(), it.key());
      if (!fresh) {
        throw Error(ErrorCode::parse, path.string() + ": '" + pos->first + "' is in both '" + pos->second + "' and '" +
                                          it.key() + "'");
      }
    }
  }
  return out;
}

}  // namespace hawkeye
