// Q-Hawkeye's perception degradations (docs/method.md section 5.1): the four operations that make the
// degraded twin of a training image for the implicit perception loss, with the reference code's stage-1
// and stage-2 strengths. The reference implementation (PIL + numpy) is reproduced operation by operation.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "hawkeye/image/image.h"

namespace hawkeye {

enum class PerceptionKind { noise, blur, jpeg, darken };

struct PerceptionParams {
  double noise_sigma = 45.0;   // additive Gaussian noise, std in 0..255 units; clipped, truncated to 8 bits
  double blur_radius = 2.0;    // Gaussian blur, PIL "radius" = standard deviation in pixels
  int jpeg_quality = 5;        // JPEG quality (1..100)
  int jpeg_passes = 4;         // encode+decode cycles: the reference compresses 3 times, then saves as JPEG
  double darken_factor = 0.6;  // every sample multiplied by this factor, truncated (PIL ImageEnhance.Brightness)
};

// Stage 1 (every training image): noise 45, blur 2.0, JPEG 5, darken 0.6.
PerceptionParams perception_stage1();
// Stage 2 (twins judged imperceptible): noise 65, blur 4.0, JPEG 5, darken 0.5.
PerceptionParams perception_stage2();

inline constexpr std::array<PerceptionKind, 4> kPerceptionKinds = {PerceptionKind::noise, PerceptionKind::blur,
                                                                   PerceptionKind::jpeg, PerceptionKind::darken};

std::string_view perception_kind_name(PerceptionKind kind);  // "noise", "blur", "jpeg", "darken"
// Errors: invalid_argument naming the valid kinds.
PerceptionKind parse_perception_kind(std::string_view name);

// Applies one degradation; the output has the input's exact size (grey input becomes RGB). Only noise uses
// the seed. Errors: invalid_argument (empty image, parameters out of range).
Image apply_perception(const Image& image, PerceptionKind kind, const PerceptionParams& params, std::uint64_t seed);

}  // namespace hawkeye
