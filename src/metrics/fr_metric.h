// Private: the generic part of FullReferenceMetric<Options> (checks, reference caching). Each metric's
// source file specialises detail::FrHooks<Options> and instantiates the class:
//   template <> struct detail::FrHooks<SsimOptions> { static constexpr const char* name = "ssim"; ... };
//   template class FullReferenceMetric<SsimOptions>;
#pragma once
#include <memory>
#include <string_view>

#include "hawkeye/metrics/full_reference.h"
#include "metrics/planes.h"

namespace hawkeye {

namespace detail {
// Per metric: `name`; `check(img, options, role)` for size limits beyond a valid 1/3-channel image;
// `Cache prepare(ref, options)`; `double score(cache, dist, options)`; optionally
// `double one_shot(ref, dist, options)` when a single pair can be scored faster than through the cache.
template <typename Options>
struct FrHooks;
}  // namespace detail

template <typename Options>
struct FullReferenceMetric<Options>::State {
  Options options;
  detail::ImageShape shape;
  typename detail::FrHooks<Options>::Cache cache;
};

template <typename Options>
FullReferenceMetric<Options>::FullReferenceMetric(const Image& ref, const Options& options) {
  using Hooks = detail::FrHooks<Options>;
  detail::check_image(Hooks::name, "reference", ref, 1, 1);
  Hooks::check(ref, options, "reference");
  auto s = std::make_shared<State>();
  s->options = options;
  s->shape = detail::shape_of(ref);
  s->cache = Hooks::prepare(ref, options);
  state_ = std::move(s);
}

template <typename Options>
double FullReferenceMetric<Options>::compute(const Image& dist) const {
  using Hooks = detail::FrHooks<Options>;
  detail::check_same_shape(Hooks::name, state_->shape, dist, 1, 1);
  return Hooks::score(state_->cache, dist, state_->options);
}

template <typename Options>
double FullReferenceMetric<Options>::compute(const Image& ref, const Image& dist, const Options& options) {
  using Hooks = detail::FrHooks<Options>;
  // Checks the pair before the reference's statistics are computed.
  detail::check_pair(Hooks::name, ref, dist, 1, 1);
  if constexpr (requires { Hooks::one_shot(ref, dist, options); }) {
    // A metric may score a single pair faster than through its cache (same result).
    Hooks::check(ref, options, "reference");
    return Hooks::one_shot(ref, dist, options);
  } else {
    return FullReferenceMetric(ref, options).compute(dist);
  }
}

}  // namespace hawkeye
