// theta-space interpolation, as inrgan_export/app/interpolation.py (the Python runtime).
#include <cmath>
#include <string>
#include <vector>

#include "inrgan/inrgan.hpp"

namespace inrgan {

namespace {
constexpr int kMaxSteps = 4096;  // interpolation.py MAX_STEPS
}

std::vector<float> lerp_theta(const std::vector<float>& a, const std::vector<float>& b, double t) {
  if (a.size() != b.size())
    throw ShapeError("theta sizes differ (" + std::to_string(a.size()) + " and " + std::to_string(b.size()) + "); both ends need the same theta_dim");
  if (!std::isfinite(t)) throw InputValueError("t is not a finite number");
  if (t == 1.0) return b;
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    out[i] = static_cast<float>(x + t * (y - x));
  }
  return out;
}

Images Generator::interpolate(const std::vector<float>& z_a, const std::vector<float>& z_b, int steps, Size size, Window window,
                              const HypernetInputs& extra) {
  if (steps < 1 || steps > kMaxSteps)
    throw UsageError("steps " + std::to_string(steps) + " must be an integer in 1.." + std::to_string(kMaxSteps));
  const auto width = static_cast<std::size_t>(z_dim());
  for (const auto* z : {&z_a, &z_b})
    if (z->size() != width)
      throw ShapeError("latent has " + std::to_string(z->size()) + " values; interpolate takes one latent [1, " + std::to_string(width) +
                       "] per end (z_dim=" + std::to_string(width) + ")");
  if (z_a == z_b) throw InputValueError("a and b are the same latent: nothing to interpolate (choose two different ones)");
  // one hypernetwork run per end, as a single render does (a batch of two may take other kernels)
  const std::vector<float> theta_a = hypernet(z_a, extra);
  const std::vector<float> theta_b = hypernet(z_b, extra);
  Images out;
  out.batch = steps;
  out.height = size.height;
  out.width = size.width;
  const std::size_t per = output_values(1, size);
  out.data.resize(output_values(steps, size));
  for (int k = 0; k < steps; ++k) {
    const double t = steps == 1 ? 0.0 : static_cast<double>(k) / (steps - 1);
    const std::vector<float> theta = t == 0.0 ? theta_a : lerp_theta(theta_a, theta_b, t);
    render(theta.data(), theta.size(), size, window, out.data.data() + static_cast<std::size_t>(k) * per, per);
  }
  return out;
}

}  // namespace inrgan
