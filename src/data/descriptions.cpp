#include "hawkeye/data/descriptions.h"

#include <algorithm>
#include <array>

#include "hawkeye/core/error.h"
#include "hawkeye/core/random.h"
#include "hawkeye/image/distortions/kadid.h"

namespace hawkeye {

namespace {

struct Phrases {
  std::vector<std::string_view> nouns;    // what the distortion is
  std::vector<std::string_view> effects;  // what it does, said when it is at least moderate
};

// Direction-dependent types pick their phrases by the sign of the level's parameter.
Phrases phrases_for(int type, int level) {
  const double p = kadid_distortion(type).levels[static_cast<std::size_t>(level - 1)];
  switch (type) {
    case 1: return {{"gaussian blur", "blur", "out-of-focus blur"}, {"edges smeared", "fine detail lost", "soft, no detail"}};
    case 2: return {{"lens blur", "defocus blur"}, {"detail washed out", "edges smeared", "blurry shapes"}};
    case 3: return {{"motion blur", "camera-shake blur"}, {"streaked edges", "edges doubled", "smeared along a line"}};
    case 4: return {{"colour bleeding", "colour diffusion"}, {"colours smeared", "hues spill over edges"}};
    case 5: return {{"colour fringing", "channel misalignment"}, {"green edges offset", "colour halos at edges"}};
    case 6: return {{"colour banding", "palette reduction"}, {"few colours, dithered", "posterized colours"}};
    case 7:
      if (p > 0) return {{"desaturation", "colour fading"}, {"colours washed out", "near monochrome"}};
      if (p == 0) return {{"colour loss", "colour removal"}, {"colours drained to grey", "no colour left"}};
      return {{"hue inversion", "false colours"}, {"colours flipped", "wrong hues"}};
    case 8: return {{"oversaturation", "boosted saturation"}, {"garish colours", "colours clipped"}};
    case 9: return {{"jpeg2000 compression", "wavelet compression"}, {"blurry, ringing edges", "smudged texture"}};
    case 10: return {{"jpeg compression", "jpeg blocking"}, {"8x8 blocks visible", "blocky, ringing edges"}};
    case 11: return {{"gaussian noise", "grain noise"}, {"grainy throughout", "speckled surfaces"}};
    case 12: return {{"colour noise", "chroma noise"}, {"coloured speckles", "blotchy colour grain"}};
    case 13: return {{"impulse noise", "salt-and-pepper noise"}, {"scattered dots", "specks everywhere"}};
    case 14: return {{"speckle noise", "multiplicative noise"}, {"grainy highlights", "grain in bright areas"}};
    case 15: return {{"over-denoising", "denoising artefacts"}, {"waxy texture", "blotchy, plastic look"}};
    case 16: return {{"overexposure", "brightening"}, {"highlights blown out", "washed-out tones"}};
    case 17: return {{"underexposure", "darkening"}, {"shadows crushed", "detail lost in shadow"}};
    case 18:
      if (p > 0) return {{"brightness lift", "raised brightness"}, {"washed-out highlights", "flat, pale tones"}};
      return {{"brightness drop", "dimmed image"}, {"murky shadows", "dark, flat tones"}};
    case 19: return {{"pixel jitter", "jitter distortion"}, {"ragged edges", "wobbly, broken edges"}};
    case 20: return {{"patch displacement", "misplaced patches"}, {"small blocks moved", "local glitches"}};
    case 21: return {{"pixelation", "mosaic pixelation"}, {"square pixels visible", "jagged blocks"}};
    case 22: return {{"tone quantization", "posterization"}, {"flat tone bands", "contours in gradients"}};
    case 23: return {{"colour block artefacts", "pasted colour blocks"}, {"opaque squares", "solid patches"}};
    case 24: return {{"oversharpening", "sharpening halos"}, {"halos along edges", "harsh, noisy edges"}};
    case 25:
      if (p > 0) return {{"contrast boost", "excess contrast"}, {"clipped darks and lights", "harsh tones"}};
      if (p == 0) return {{"tone curve change", "mild s-curve"}, {"slightly harsher tones"}};
      return {{"contrast loss", "contrast reduction"}, {"flat, washed-out look", "dull, grey tones"}};
    default: break;
  }
  throw Error(ErrorCode::invalid_argument, "no descriptions for KADID type " + std::to_string(type));
}

bool identity_level(int type, int level) {
  return (type == 1 && level == 1) || (type == 3 && level == 1) || (type == 8 && level == 1) || (type == 18 && level == 3);
}

std::vector<std::string_view> severity_words(std::string_view band) {
  if (band == "barely visible") return {"barely visible", "faint", "very slight"};
  if (band == "slight") return {"slight", "mild", "light"};
  if (band == "moderate") return {"moderate", "noticeable", "clear"};
  if (band == "strong") return {"strong", "heavy", "marked"};
  return {"severe", "extreme", "very strong"};
}

// Tails for mild bands, where the type's effect would overstate the damage.
std::vector<std::string_view> mild_tails(std::string_view band) {
  if (band == "barely visible") return {"detail intact", "nearly pristine"};
  return {"minor loss", "still good quality"};
}

}  // namespace

std::string_view severity_band(double label) {
  if (label >= 4.4) return "barely visible";
  if (label >= 3.8) return "slight";
  if (label >= 3.0) return "moderate";
  if (label >= 2.2) return "strong";
  return "severe";
}

std::vector<std::string> kadid_description_variants(int type, int level, double label) {
  kadid_distortion(type);  // validates the type
  require(level >= 1 && level <= kKadidLevelCount, ErrorCode::invalid_argument, "level must be 1..5");
  std::vector<std::string> out;
  if (identity_level(type, level)) {
    out = {"no visible distortion", "clean image, no artefacts", "looks pristine, no defects"};
  } else {
    const std::string_view band = severity_band(label);
    const bool mild = band == "barely visible" || band == "slight";
    const Phrases ph = phrases_for(type, level);
    const auto tails = mild ? mild_tails(band) : ph.effects;
    for (std::string_view sev : severity_words(band)) {
      for (std::string_view noun : ph.nouns) {
        const std::string base = std::string(sev) + " " + std::string(noun);
        if (base.size() >= kMinDescriptionLength && (mild || band == "moderate")) out.push_back(base);
        for (std::string_view tail : tails) {
          std::string s = base + ", " + std::string(tail);
          if (s.size() <= kMaxDescriptionLength) out.push_back(std::move(s));
        }
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  require(!out.empty(), ErrorCode::internal, "no description fits for type " + std::to_string(type));
  return out;
}

std::string describe_kadid(int type, int level, double label, std::uint64_t seed) {
  const auto variants = kadid_description_variants(type, level, label);
  Rng rng(seed);
  return variants[rng.below(variants.size())];
}

}  // namespace hawkeye
