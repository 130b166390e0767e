// The 25 synthetic distortions of KADID-10k at its 5 levels each, re-implemented from the generator's
// specification (docs/distortions.md): one registry with KADID's type ids and names, seeded
// per (image, type, level), so a synthetic set can be labelled with KADID's human scores per type and level.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hawkeye/image/image.h"

namespace hawkeye {

inline constexpr int kKadidTypeCount = 25;
inline constexpr int kKadidLevelCount = 5;

struct KadidDistortion {
  int id = 0;                    // KADID-10k type number, 1..25
  std::string_view name;         // snake_case, as in KADID's score table ("gaussian_blur")
  std::string_view family;       // blur, color, compression, noise, brightness, spatial, sharpness_contrast
  std::string_view parameter;    // what the per-level value means, with its unit
  std::array<double, 5> levels;  // the parameter at levels 1..5 (MATLAB generator order)
  bool random = false;           // draws from the seed (all others are deterministic)
  bool monotone = true;          // severity grows with the level (false: 18 mean shift, 25 contrast change)
  bool substitute = false;       // not KADID's operation (15: DnCNN denoising replaced, see noise.cpp)
  bool labelled = true;          // included in labelled sets by default (false for substitutes)
};

// All 25, ordered by id.
const std::vector<KadidDistortion>& kadid_distortions();

// Lookup by id (1..25) or by name or id text ("gaussian_blur", "1", "01"). Errors: invalid_argument with
// the list of valid names.
const KadidDistortion& kadid_distortion(int id);
const KadidDistortion& kadid_distortion(std::string_view name_or_id);

// The encoder of type 9 (JPEG 2000). KADID's MATLAB generator calls imwrite's lossy JPEG 2000 mode: the
// irreversible 9/7 wavelet at an exact compression ratio (`wavelet97`, through libopenjp2). hawkeye's first sets
// and the shipped model used OpenCV's writer (`opencv53`: the reversible 5/3 wavelet, the ratio rounded as in
// docs/distortions.md 3.09), which stays the default so that recorded sets are rebuilt byte for byte. `both`:
// one of the two per (image, level), drawn from the seed (for training sets that should know both).
enum class Jpeg2000Coder { opencv53, wavelet97, both };
// "opencv53" | "5/3", "wavelet97" | "9/7", "both". Errors: invalid_argument, listing the valid names.
Jpeg2000Coder parse_jpeg2000_coder(std::string_view name);
std::string_view jpeg2000_coder_name(Jpeg2000Coder coder);  // "opencv53", "wavelet97", "both"

struct KadidOptions {
  // The MATLAB generator min-max normalises the image globally (one min and max over all channels) before
  // and after every distortion. Off only for tests that check a distortion's raw semantics.
  bool minmax_normalize = true;
  Jpeg2000Coder jpeg2000 = Jpeg2000Coder::opencv53;
};

// Applies KADID type `type` (1..25) at `level` (1..5) to an RGB (or grey, which is replicated) image and
// returns an RGB image of the same size. The same (image, type, level, seed) always gives the same bytes.
// Errors: invalid_argument (type, level, empty image, smaller than 48x48 for type 20 or 32x32 for type 23).
Image apply_kadid(const Image& image, int type, int level, std::uint64_t seed, const KadidOptions& options = {});

// The seed of one (image, type, level): derive_seed(run_seed, "<image_id>|type=<t>|level=<l>").
std::uint64_t kadid_seed(std::uint64_t run_seed, std::string_view image_id, int type, int level);

// Parses a type list: "all" (every labelled type, i.e. 24 without the substitute 15), "all+substitutes"
// (all 25), or a comma-separated list of ids and names ("1,3,jpeg"). Sorted, without duplicates.
std::vector<int> parse_kadid_types(std::string_view spec);

// Parses a level list: "1-5", "2", "1,3,5". Sorted, without duplicates; each in 1..5.
std::vector<int> parse_kadid_levels(std::string_view spec);

}  // namespace hawkeye
