// KADID-10k's seven distortion families (Lin, Hosu, Saupe 2019) and a keyword matcher that says which family a
// piece of reasoning names ("strong gaussian blur, edges smeared" -> blur). The family of each type is the
// registry's (KadidDistortion::family); the keywords are the word stems of the warm-start descriptions
// (descriptions.h), chosen so that every description of a type names that type's family first. Used by
// `hawkeye eval` to report how often the model's reasoning names the right family (docs/data.md section 5).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hawkeye {

// What a text that names no family is matched to.
inline constexpr std::string_view kNoFamily = "none";

// The seven families in KADID's order: blur, color, compression, noise, brightness, spatial, sharpness_contrast.
const std::vector<std::string_view>& family_names();

// The family of KADID type 1..25 (the registry's). Errors: invalid_argument.
std::string_view kadid_family(int type_id);

struct FamilyKeywords {
  std::string_view family;
  std::vector<std::string_view> keywords;  // lower-case stems, matched as substrings ("saturat", "colour block")
};

// The matcher's table, one entry per family in family_names() order.
const std::vector<FamilyKeywords>& family_keywords();

struct FamilyMatch {
  std::string_view family = kNoFamily;
  std::string_view keyword;                    // the keyword found ("" when none)
  std::size_t position = std::string::npos;    // byte offset of the keyword in the text
};

// The family named first in `text`: the keyword occurrence that starts earliest in the lower-cased text (ASCII
// case folding); at the same position the longer keyword wins ("colour block" over "colour"). kNoFamily when
// no keyword occurs.
FamilyMatch first_family_match(std::string_view text);
inline std::string_view named_family(std::string_view text) { return first_family_match(text).family; }

// True when the warm-start descriptions of this (type, level, label) give the model nothing to name: the label
// is in the "barely visible" severity band (severity_band(label), label >= 4.4) or the level is an identity
// level ("no visible distortion"; level 0 = unknown, then only the label decides). Errors: invalid_argument
// (type outside 1..25, level outside 0..5).
bool kadid_distortion_invisible(int type_id, int level, double label);

}  // namespace hawkeye
