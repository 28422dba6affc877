#include "grid.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace inrgan::detail {

std::vector<int> PaperExpSizeRule::block_sizes_1d(int n) const {
  // Walk from the last block: each block is the next one // 2, except below
  // upsample_block_idx where it is // (2 * extra); extra >= 1 so sizes below native work.
  const int extra = std::max(1, n / native_);
  std::vector<int> sizes(static_cast<std::size_t>(num_blocks_));
  int current = n;
  for (int i = num_blocks_ - 1; i >= 0; --i) {
    sizes[static_cast<std::size_t>(i)] = current;
    const int divisor = i == upsample_block_idx_ ? 2 * extra : 2;
    current = std::max(1, current / divisor);
  }
  return sizes;
}

std::vector<int> HalvingSizeRule::block_sizes_1d(int n) const {
  std::vector<int> sizes(static_cast<std::size_t>(num_blocks_));
  int current = n;
  for (int i = num_blocks_ - 1; i >= 0; --i) {
    sizes[static_cast<std::size_t>(i)] = current;
    current = std::max(1, current / 2);
  }
  return sizes;
}

std::vector<float> CoordConvention::axis(int n, float lo, float hi, int axis) const {
  if (!y_up || axis == 0) return base_axis(n, lo, hi, axis);
  // float32 1 - hi and 1 - lo, as grid.py's F32(1) - F32(hi)
  std::vector<float> flipped = base_axis(n, 1.0f - hi, 1.0f - lo, axis);
  std::reverse(flipped.begin(), flipped.end());
  return flipped;
}

std::vector<float> CoordConvention::base_axis(int n, float lo, float hi, int axis) const {
  std::vector<float> out(static_cast<std::size_t>(n));
  const float span = hi - lo;
  const float off = offset[axis], sc = scale[axis];
  for (int i = 0; i < n; ++i) {
    const float t = static_cast<float>(i) / static_cast<float>(n);
    const float u = lo + span * t;  // u_i = lo + (hi - lo) * (i / n)
    out[static_cast<std::size_t>(i)] = (off == 0.0f && sc == 1.0f) ? u : off + sc * u;
  }
  return out;
}

std::vector<std::int32_t> nearest_indices(int n_src, int n_dst) {
  // PyTorch's nearest upsampling with an output size: 1:1, an exact doubling i >> 1,
  // otherwise min(floor(f32(i) * f32(n_src / n_dst)), n_src - 1) in float32
  std::vector<std::int32_t> out(static_cast<std::size_t>(n_dst));
  const float scale = static_cast<float>(n_src) / static_cast<float>(n_dst);
  for (int i = 0; i < n_dst; ++i) {
    std::int64_t src;
    if (n_dst == n_src) {
      src = i;
    } else if (n_dst == 2 * n_src) {
      src = i >> 1;
    } else {
      src = static_cast<std::int64_t>(std::floor(static_cast<float>(i) * scale));
      src = std::min<std::int64_t>(src, n_src - 1);
    }
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(src);
  }
  return out;
}

LinearIndices linear_indices(int n_src, int n_dst, bool align_corners) {
  LinearIndices out;
  const auto n = static_cast<std::size_t>(n_dst);
  out.i0.resize(n);
  out.i1.resize(n);
  out.w1.resize(n);
  // the align_corners scale is a float64 quotient rounded to float32, as in grid.py
  const float scale = align_corners ? (n_dst > 1 ? static_cast<float>(static_cast<double>(n_src - 1) / (n_dst - 1)) : 0.0f)
                                    : static_cast<float>(n_src) / static_cast<float>(n_dst);
  for (int i = 0; i < n_dst; ++i) {
    const float d = static_cast<float>(i);
    float src = align_corners ? scale * d : std::max(scale * (d + 0.5f) - 0.5f, 0.0f);
    const auto i0 = static_cast<std::int64_t>(src);  // truncation == floor for src >= 0
    const std::int64_t i1 = i0 < n_src - 1 ? i0 + 1 : i0;
    const auto k = static_cast<std::size_t>(i);
    out.i0[k] = static_cast<std::int32_t>(i0);
    out.i1[k] = static_cast<std::int32_t>(i1);
    out.w1[k] = src - static_cast<float>(i0);
  }
  return out;
}

const GridArray& GridInputs::get(const std::string& name) const {
  for (const auto& a : arrays)
    if (a.name == name) return a;
  throw Error("internal: no grid input named " + name);
}

std::vector<Size> GridLayout::block_shapes(Size size) const {
  check_size(size);
  const auto hs = size_rule->block_sizes_1d(size.height);
  const auto ws = size_rule->block_sizes_1d(size.width);
  std::vector<Size> shapes;
  for (std::size_t b = 0; b < hs.size(); ++b) shapes.push_back({hs[b], ws[b]});
  return shapes;
}

std::vector<GridInputSpec> GridLayout::input_specs() const {
  using Kind = GridInputSpec::Kind;
  std::vector<GridInputSpec> specs;
  for (int b = 0; b < num_blocks(); ++b) specs.push_back({"coords_" + std::to_string(b), Kind::Coords, b, 0, -1, DType::Float32});
  for (const auto& [s, d] : edges) {
    for (const char axis : {'y', 'x'}) {
      const std::string stem = "up" + std::to_string(s) + "to" + std::to_string(d) + "_" + axis;
      if (resample_mode == ResampleMode::Nearest) {
        specs.push_back({stem, Kind::Index, d, axis, s, DType::Int32});
      } else {
        specs.push_back({stem + "0", Kind::Index, d, axis, s, DType::Int32});
        specs.push_back({stem + "1", Kind::Index, d, axis, s, DType::Int32});
        specs.push_back({stem + "w", Kind::Weight, d, axis, s, DType::Float32});
      }
    }
  }
  return specs;
}

GridInputs GridLayout::build(Size size, Window window) const {
  check_window(window);
  GridInputs grid;
  grid.block_shapes = block_shapes(size);
  for (std::size_t b = 0; b + 1 < grid.block_shapes.size(); ++b) {
    const auto& s = grid.block_shapes[b];
    if (static_cast<std::int64_t>(s.height) * s.width >= (std::int64_t{1} << 31))
      throw ShapeError("size " + std::to_string(size.height) + "x" + std::to_string(size.width) +
                       " needs a block grid of 2^31 samples or more; render it in windows");
  }
  // same order as input_specs(): coordinates per block, then per edge and axis the indices
  for (int b = 0; b < num_blocks(); ++b) {
    const Size s = grid.block_shapes[static_cast<std::size_t>(b)];
    const auto xs = coords.axis(s.width, window.x0, window.x1, 0);
    const auto ys = coords.axis(s.height, window.y0, window.y1, 1);
    const auto width = static_cast<std::size_t>(s.width);
    const std::size_t plane = static_cast<std::size_t>(s.height) * width;
    GridArray arr{"coords_" + std::to_string(b), DType::Float32, {1, 2, s.height, s.width}, {}, {}};
    arr.f32.resize(2 * plane);
    for (std::size_t r = 0; r < static_cast<std::size_t>(s.height); ++r) {
      std::copy(xs.begin(), xs.end(), arr.f32.begin() + static_cast<std::ptrdiff_t>(r * width));       // channel x
      std::fill_n(arr.f32.begin() + static_cast<std::ptrdiff_t>(plane + r * width), width, ys[r]);  // channel y
    }
    grid.arrays.push_back(std::move(arr));
  }
  for (const auto& [s, d] : edges) {
    const Size src = grid.block_shapes[static_cast<std::size_t>(s)];
    const Size dst = grid.block_shapes[static_cast<std::size_t>(d)];
    for (const char axis : {'y', 'x'}) {
      const int n_src = axis == 'y' ? src.height : src.width;
      const int n_dst = axis == 'y' ? dst.height : dst.width;
      const std::string stem = "up" + std::to_string(s) + "to" + std::to_string(d) + "_" + axis;
      const std::vector<std::int64_t> shape{n_dst};
      if (resample_mode == ResampleMode::Nearest) {
        grid.arrays.push_back({stem, DType::Int32, shape, {}, nearest_indices(n_src, n_dst)});
      } else {
        LinearIndices parts = linear_indices(n_src, n_dst, align_corners);
        grid.arrays.push_back({stem + "0", DType::Int32, shape, {}, std::move(parts.i0)});
        grid.arrays.push_back({stem + "1", DType::Int32, shape, {}, std::move(parts.i1)});
        grid.arrays.push_back({stem + "w", DType::Float32, shape, std::move(parts.w1), {}});
      }
    }
  }
  return grid;
}

void check_size(Size size) {
  if (size.height < 1 || size.height > kMaxSide || size.width < 1 || size.width > kMaxSide)
    throw ShapeError("size " + std::to_string(size.height) + "x" + std::to_string(size.width) +
                     " is impossible: height and width must be in 1.." + std::to_string(kMaxSide));
}

void check_window(const Window& w) {
  const auto text = [&] {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%g,%g,%g,%g", w.x0, w.y0, w.x1, w.y1);
    return std::string(buf);
  };
  if (!std::isfinite(w.x0) || !std::isfinite(w.y0) || !std::isfinite(w.x1) || !std::isfinite(w.y1))
    throw UsageError("window " + text() + " has a non-finite value");
  if (!(w.x1 > w.x0 && w.y1 > w.y0))
    throw UsageError("window " + text() + " is empty: need x1 > x0 and y1 > y0 (e.g. 0.25,0.25,0.75,0.75)");
}

}  // namespace inrgan::detail
