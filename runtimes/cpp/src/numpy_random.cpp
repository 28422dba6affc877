#include "numpy_random.hpp"

#include <cmath>

namespace inrgan::detail {

namespace {
constexpr int kShift = 397;  // M of the reference implementation
constexpr std::uint32_t kMatrixA = 0x9908b0dfu;
constexpr std::uint32_t kUpperBit = 0x80000000u;
constexpr std::uint32_t kLowerBits = 0x7fffffffu;
}  // namespace

Mt19937::Mt19937(std::uint32_t seed) {
  // init_genrand: Knuth's multiplier 1812433253, as the reference code and numpy use
  state_[0] = seed;
  for (int i = 1; i < kStateSize; ++i) {
    const std::uint32_t prev = state_[i - 1];
    state_[i] = 1812433253u * (prev ^ (prev >> 30)) + static_cast<std::uint32_t>(i);
  }
  position_ = kStateSize;  // the first draw regenerates the whole state
}

void Mt19937::regenerate() {
  // In-place twist; (i + kShift) % N reads already-updated words exactly where the
  // reference code's third loop does.
  for (int i = 0; i < kStateSize; ++i) {
    const std::uint32_t y = (state_[i] & kUpperBit) | (state_[(i + 1) % kStateSize] & kLowerBits);
    state_[i] = state_[(i + kShift) % kStateSize] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
  }
  position_ = 0;
}

std::uint32_t Mt19937::next_uint32() {
  if (position_ >= kStateSize) regenerate();
  std::uint32_t y = state_[position_++];
  // tempering
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

double LegacyGaussian::next_double() {
  const std::uint32_t a = bits_.next_uint32() >> 5;  // 27 bits
  const std::uint32_t b = bits_.next_uint32() >> 6;  // 26 bits
  return (a * 67108864.0 + b) / 9007199254740992.0;  // (a * 2^26 + b) / 2^53
}

double LegacyGaussian::next_gaussian() {
  if (has_cached_) {
    has_cached_ = false;
    return cached_;
  }
  double x1 = 0.0, x2 = 0.0, r2 = 0.0;
  do {
    x1 = 2.0 * next_double() - 1.0;
    x2 = 2.0 * next_double() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  // separate rounding steps in this order (the build disables fused multiply-add)
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  cached_ = f * x1;
  has_cached_ = true;
  return f * x2;
}

}  // namespace inrgan::detail
