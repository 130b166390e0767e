// Seeded splits by reference image: every reference (and so every image made from it) lands in exactly one
// split, so no content is shared between training and test data. NR manifests without references are split
// by image.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hawkeye/data/manifest.h"

namespace hawkeye {

// Ordered (name, fraction) pairs.
using SplitFractions = std::vector<std::pair<std::string, double>>;

// "train=0.8,test=0.2": names [a-z0-9_-], unique; fractions > 0 summing to 1 (within 1e-6).
// Errors: invalid_argument saying what is wrong.
SplitFractions parse_split_fractions(std::string_view spec);

// Assigns each distinct key to one split: keys are sorted, shuffled with the seed, and cut into consecutive
// blocks whose sizes are the fractions rounded by largest remainder (every split with a fraction gets at
// least one key when there are enough keys). Deterministic for the same keys, fractions and seed.
std::map<std::string, std::string> assign_splits(std::vector<std::string> keys, const SplitFractions& fractions,
                                                 std::uint64_t seed);

// The grouping key of a row: its reference (FR) or, without one, its image.
const std::string& split_key(const ManifestRow& row);

// Sets every row's split from assign_splits over the manifest's split keys; returns the assignment.
std::map<std::string, std::string> apply_splits(Manifest& manifest, const SplitFractions& fractions, std::uint64_t seed);

// Throws Error(parse) naming the two lines when one reference appears in two splits.
void check_splits_by_reference(const Manifest& manifest);

// The split file: {"seed": S, "fractions": {...}, "by": "reference", "splits": {"train": [refs...], ...}}.
void write_split_file(const std::filesystem::path& path, const std::map<std::string, std::string>& assignment,
                      const SplitFractions& fractions, std::uint64_t seed);
// Reads it back as key -> split. Errors: not_found, parse (naming the file), including a key in two splits.
std::map<std::string, std::string> read_split_file(const std::filesystem::path& path);

}  // namespace hawkeye
