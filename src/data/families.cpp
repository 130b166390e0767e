#include "hawkeye/data/families.h"

#include <algorithm>
#include <cctype>

#include "hawkeye/core/error.h"
#include "hawkeye/data/descriptions.h"
#include "hawkeye/image/distortions/kadid.h"

namespace hawkeye {

const std::vector<std::string_view>& family_names() {
  static const std::vector<std::string_view> names = {"blur",       "color",   "compression",       "noise",
                                                      "brightness", "spatial", "sharpness_contrast"};
  return names;
}

std::string_view kadid_family(int type_id) { return kadid_distortion(type_id).family; }

const std::vector<FamilyKeywords>& family_keywords() {
  // The nouns of descriptions.cpp decide the first match of every description, so each noun carries a keyword
  // of its own family; the multi-word keywords ("colour noise", "colour block") are those nouns that begin
  // with another family's word. Stems match inside words ("oversaturation", "denoising", "underexposure").
  static const std::vector<FamilyKeywords> table = {
      {"blur", {"blur", "defocus", "out of focus", "out-of-focus", "smear"}},
      {"color",
       {"colour", "color", "saturat", "hue", "chroma", "fring", "misalign", "palette", "bleed", "monochrome", "tint"}},
      {"compression", {"jpeg", "compress", "wavelet", "blocking", "blocky", "ringing", "8x8 block"}},
      {"noise",
       {"nois", "grain", "speck", "salt-and-pepper", "salt and pepper", "impulse", "colour noise", "color noise",
        "chroma noise"}},
      {"brightness", {"bright", "dark", "expos", "dimm", "lighten", "washed"}},
      {"spatial",
       {"jitter", "pixel", "mosaic", "patch", "misplaced", "displace", "quantiz", "posteriz", "banding",
        "colour block", "color block", "pasted", "square", "wobbl", "glitch"}},
      {"sharpness_contrast", {"sharpen", "oversharp", "halo", "contrast", "tone curve", "s-curve"}},
  };
  return table;
}

FamilyMatch first_family_match(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  FamilyMatch best;
  for (const FamilyKeywords& f : family_keywords()) {
    for (std::string_view k : f.keywords) {
      const std::size_t pos = lower.find(k);
      if (pos == std::string::npos) continue;
      if (pos < best.position || (pos == best.position && k.size() > best.keyword.size())) {
        best = {f.family, k, pos};
      }
    }
  }
  return best;
}

bool kadid_distortion_invisible(int type_id, int level, double label) {
  kadid_distortion(type_id);  // validates the type
  require(level >= 0 && level <= kKadidLevelCount, ErrorCode::invalid_argument, "level must be 0 (unknown) or 1..5");
  if (severity_band(label) == "barely visible") return true;
  if (level == 0) return false;
  // Identity levels are described without any distortion word ("no visible distortion").
  const auto variants = kadid_description_variants(type_id, level, label);
  return std::all_of(variants.begin(), variants.end(),
                     [](const std::string& d) { return named_family(d) == kNoFamily; });
}

}  // namespace hawkeye
