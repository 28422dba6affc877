#include "render_limits.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include "inrgan/inrgan.hpp"

namespace inrgan::detail {

std::int64_t render_bytes(const GridLayout& layout, int n, Size size) {
  const std::vector<Size> shapes = layout.block_shapes(size);
  std::int64_t total = 0;
  for (const Size& s : shapes) total += 2 * 4 * static_cast<std::int64_t>(s.height) * s.width;  // coords
  const std::int64_t per_axis = layout.resample_mode == ResampleMode::Nearest ? 4 : 12;
  for (const auto& edge : layout.edges) {
    const Size& d = shapes.at(static_cast<std::size_t>(edge.second));
    total += per_axis * (static_cast<std::int64_t>(d.height) + d.width);
  }
  const Size& out = shapes.back();
  total += static_cast<std::int64_t>(n) * 3 * 4 * static_cast<std::int64_t>(out.height) * out.width;
  return total;
}

namespace {

std::string human(double b) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return text;
}

}  // namespace

void check_render_bytes(const GridLayout& layout, int n, Size size, std::int64_t budget) {
  const std::int64_t need = render_bytes(layout, n, size);
  if (need <= budget) return;
  auto scaled = [&](double f) {
    return Size{std::max(1, static_cast<int>(size.height * f)), std::max(1, static_cast<int>(size.width * f))};
  };
  std::string best = "none (not even 1x1)";
  if (render_bytes(layout, n, scaled(0.0)) <= budget) {
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 60; ++i) {
      const double mid = (lo + hi) / 2;
      (render_bytes(layout, n, scaled(mid)) <= budget ? lo : hi) = mid;
    }
    const Size s = scaled(lo);
    best = std::to_string(s.height) + "x" + std::to_string(s.width);
  }
  throw ShapeError("render of " + std::to_string(n) + " image(s) at " + std::to_string(size.height) + "x" +
                   std::to_string(size.width) + " needs " + human(static_cast<double>(need)) +
                   " (coordinate grid and output), over the budget of " + human(static_cast<double>(budget)) +
                   " (--max-memory); the largest size within the budget is " + best);
}

}  // namespace inrgan::detail
