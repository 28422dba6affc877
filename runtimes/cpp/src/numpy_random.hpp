// numpy's legacy RandomState stream, reimplemented from its published algorithms so that
// `--seed s` is the same latent in C++ and Python:
//   * MT19937 (Matsumoto & Nishimura 1998) seeded with init_genrand(s), which is what
//     RandomState(s) does for an integer seed;
//   * random_double: 53 bits from two 32-bit draws, ((a >> 5) * 2^26 + (b >> 6)) / 2^53;
//   * legacy_gauss: Marsaglia's polar method, returning the second value of each pair first
//     and caching the first for the next call.
#pragma once

#include <array>
#include <cstdint>

namespace inrgan::detail {

class Mt19937 {
 public:
  explicit Mt19937(std::uint32_t seed);
  std::uint32_t next_uint32();

 private:
  void regenerate();
  static constexpr int kStateSize = 624;
  std::array<std::uint32_t, kStateSize> state_{};
  int position_ = kStateSize;
};

class LegacyGaussian {
 public:
  explicit LegacyGaussian(std::uint32_t seed) : bits_(seed) {}
  double next_double();    // uniform in [0, 1) with 53 random bits
  double next_gaussian();  // standard normal, numpy.random.RandomState.standard_normal

 private:
  Mt19937 bits_;
  bool has_cached_ = false;
  double cached_ = 0.0;
};

}  // namespace inrgan::detail
