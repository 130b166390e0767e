// Seeded randomness. Every item gets its own seed derived from the run seed and the item's identity,
// so results do not depend on the order or the batch in which items are processed.
#pragma once
#include <cstdint>
#include <limits>
#include <string_view>

namespace hawkeye {

// 64-bit FNV-1a of a byte string (stable across platforms and runs).
std::uint64_t hash64(std::string_view bytes);

// One step of splitmix64: a good mixer for seeds.
std::uint64_t splitmix64(std::uint64_t x);

// Seed for an item: mixes the run seed with the item's identity (e.g. "kodim01.png|type=3|level=2").
std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view identity);
std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);
// A named stream ("rollout", "augment") of numbered items: derive_seed(derive_seed(run_seed, tag), a, b).
std::uint64_t derive_seed(std::uint64_t run_seed, const char* tag, std::uint64_t a, std::uint64_t b = 0);

// xoshiro256** generator; satisfies UniformRandomBitGenerator. Small state, fast, serialisable.
class Rng {
 public:
  using result_type = std::uint64_t;
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed);
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()();
  double uniform();                        // [0, 1)
  double uniform(double lo, double hi);    // [lo, hi)
  std::uint64_t below(std::uint64_t n);    // [0, n), unbiased; n > 0
  double normal();                         // standard normal (Box-Muller, no cached spare)
  const std::uint64_t* state() const { return s_; }
  void set_state(const std::uint64_t state[4]);

 private:
  std::uint64_t s_[4];
};

}  // namespace hawkeye
