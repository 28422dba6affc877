// Latents: `--seed` (numpy's legacy RandomState stream) and `--latent` .npy files, with the
// same checks and messages as inrgan_export/core/latents.py.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "inrgan/inrgan.hpp"
#include "npy.hpp"
#include "numpy_random.hpp"
#include "shape_text.hpp"

namespace inrgan {

std::vector<float> latent_from_seed(std::uint32_t seed, int z_dim) {
  if (z_dim < 1) throw ShapeError("z_dim " + std::to_string(z_dim) + " must be at least 1");
  detail::LegacyGaussian gaussian(seed);
  std::vector<float> z(static_cast<std::size_t>(z_dim));
  for (auto& v : z) v = static_cast<float>(gaussian.next_gaussian());  // float64 -> float32, nearest
  return z;
}

namespace {

// Element `i` of a little- or big-endian float32/float64 buffer, as double.
double element(const std::vector<char>& bytes, std::size_t i, std::size_t item, bool big_endian) {
  unsigned char raw[8];
  std::memcpy(raw, bytes.data() + i * item, item);
  if (big_endian) {
    for (std::size_t a = 0, b = item - 1; a < b; ++a, --b) std::swap(raw[a], raw[b]);
  }
  if (item == 4) {
    float f;
    std::memcpy(&f, raw, 4);
    return f;
  }
  double d;
  std::memcpy(&d, raw, 8);
  return d;
}

}  // namespace

std::vector<float> read_latents_npy(const std::string& path, int z_dim, int* rows) {
  const detail::NpyArray arr = detail::read_npy(path);
  std::vector<std::int64_t> shape = arr.shape;
  if (shape.size() == 1) shape.insert(shape.begin(), 1);  // one [z_dim] vector
  if (shape.size() != 2 || shape[1] != z_dim || shape[0] < 1)
    throw ShapeError("latent file " + path + " has shape " + detail::shape_text(arr.shape) +
                     "; this generator takes [N, " + std::to_string(z_dim) + "] (z_dim=" + std::to_string(z_dim) + ")");
  // float32 and float64 in either byte order (float64 is cast, as the Python side does)
  const bool known = arr.descr == "<f4" || arr.descr == ">f4" || arr.descr == "<f8" || arr.descr == ">f8";
  if (!known) throw InputValueError("latent file " + path + " has dtype " + arr.descr + "; expected float32 (<f4)");
  const std::size_t item = arr.descr[2] == '4' ? 4 : 8;
  const bool big_endian = arr.descr[0] == '>';
  const auto n = static_cast<std::size_t>(shape[0]), width = static_cast<std::size_t>(shape[1]);
  std::vector<float> z(n * width);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < width; ++c) {
      const std::size_t stored = arr.fortran_order ? c * n + r : r * width + c;
      const double v = element(arr.bytes, stored, item, big_endian);
      // beyond float32's range a value would turn into Inf (and the cast is undefined)
      if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max())
        throw InputValueError("latent file " + path + ": row " + std::to_string(r) +
                              " contains NaN or Inf (or a value beyond float32); every value must be finite");
      z[r * width + c] = static_cast<float>(v);
    }
  }
  if (rows) *rows = static_cast<int>(n);
  return z;
}

}  // namespace inrgan
