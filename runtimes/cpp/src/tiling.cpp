#include "tiling.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace inrgan::detail {

namespace {

// The index vectors of every edge along one axis (bilinear: i0 and i1 both matter).
std::map<std::pair<int, int>, std::vector<const std::vector<std::int32_t>*>> edge_indices(
    const GridLayout& layout, const GridInputs& grid, char axis) {
  std::map<std::pair<int, int>, std::vector<const std::vector<std::int32_t>*>> out;
  for (const auto& [s, d] : layout.edges) {
    const std::string stem = "up" + std::to_string(s) + "to" + std::to_string(d) + "_" + axis;
    if (layout.resample_mode == ResampleMode::Nearest) {
      out[{s, d}] = {&grid.get(stem).i32};
    } else {
      out[{s, d}] = {&grid.get(stem + "0").i32, &grid.get(stem + "1").i32};
    }
  }
  return out;
}

std::vector<std::vector<Span>> axis_tiles(const GridLayout& layout, const GridInputs& grid, char axis, int bands) {
  std::vector<int> sizes;
  for (const auto& s : grid.block_shapes) sizes.push_back(axis == 'y' ? s.height : s.width);
  const auto nb = sizes.size();
  if (bands <= 1) {
    std::vector<Span> whole;
    for (int n : sizes) whole.push_back({0, n});
    return {whole};
  }
  const auto idx = edge_indices(layout, grid, axis);
  // which first-block sample each output sample descends from (through connector edges)
  std::vector<int> owner(static_cast<std::size_t>(sizes[0]));
  for (std::size_t i = 0; i < owner.size(); ++i) owner[i] = static_cast<int>(i);
  for (std::size_t b = 1; b < nb; ++b) {
    const auto it = idx.find({static_cast<int>(b) - 1, static_cast<int>(b)});
    if (it == idx.end()) throw Error("grid layout has no edge " + std::to_string(b - 1) + "->" + std::to_string(b) + "; tiling needs the blocks chained");
    std::vector<int> next;
    for (const auto src : *it->second[0]) next.push_back(owner[static_cast<std::size_t>(src)]);
    owner = std::move(next);
  }
  bands = std::min(bands, sizes[0]);
  std::vector<int> bounds;  // numpy.linspace(0, n0, bands + 1).round()
  for (int k = 0; k <= bands; ++k)
    bounds.push_back(k == bands ? sizes[0] : static_cast<int>(std::nearbyint(k * (static_cast<double>(sizes[0]) / bands))));
  std::vector<std::vector<Span>> tiles;
  for (int k = 0; k < bands; ++k) {
    const int a = bounds[static_cast<std::size_t>(k)], z = bounds[static_cast<std::size_t>(k) + 1];
    std::optional<int> first, last;
    for (std::size_t i = 0; i < owner.size(); ++i) {
      if (owner[i] >= a && owner[i] < z) {
        if (!first) first = static_cast<int>(i);
        last = static_cast<int>(i);
      }
    }
    if (!first) continue;
    std::vector<std::optional<Span>> spans(nb);
    spans[nb - 1] = Span{*first, *last + 1};
    for (std::size_t d = nb - 1; d >= 1; --d) {
      if (!spans[d]) continue;
      const auto [lo, hi] = *spans[d];
      for (const auto& [edge, vectors] : idx) {
        if (edge.second != static_cast<int>(d)) continue;
        int need_lo = INT32_MAX, need_hi = INT32_MIN;
        for (const auto* v : vectors) {
          const auto [mn, mx] = std::minmax_element(v->begin() + lo, v->begin() + hi);
          need_lo = std::min(need_lo, *mn);
          need_hi = std::max(need_hi, *mx + 1);
        }
        auto& cur = spans[static_cast<std::size_t>(edge.first)];
        cur = cur ? Span{std::min(cur->first, need_lo), std::max(cur->second, need_hi)} : Span{need_lo, need_hi};
      }
    }
    std::vector<Span> tile;
    for (const auto& sp : spans) {
      if (!sp) throw Error("grid layout leaves a block unreachable from the output; cannot tile it");
      tile.push_back(*sp);
    }
    tiles.push_back(std::move(tile));
  }
  return tiles;
}

}  // namespace

std::vector<std::int64_t> Tile::pixels() const {
  std::vector<std::int64_t> out;
  for (std::size_t b = 0; b < rows.size(); ++b)
    out.push_back(static_cast<std::int64_t>(rows[b].second - rows[b].first) * (cols[b].second - cols[b].first));
  return out;
}

std::vector<Size> Tile::block_shapes() const {
  std::vector<Size> out;
  for (std::size_t b = 0; b < rows.size(); ++b) out.push_back({rows[b].second - rows[b].first, cols[b].second - cols[b].first});
  return out;
}

bool PieceBounds::holds(const std::vector<Size>& shapes) const {
  for (std::size_t b = 0; b < std::min(shapes.size(), blocks.size()); ++b)
    if (shapes[b].height > blocks[b].height || shapes[b].width > blocks[b].width) return false;
  return true;
}

std::string PieceBounds::text() const {
  std::string out = "blocks up to ";
  for (std::size_t b = 0; b < blocks.size(); ++b)
    out += (b ? ", " : "") + std::to_string(blocks[b].height) + "x" + std::to_string(blocks[b].width);
  return out + ", batch up to " + std::to_string(batch);
}

std::vector<Tile> make_tiles(const GridLayout& layout, const GridInputs& grid, int bands_y, int bands_x) {
  std::vector<Tile> tiles;
  for (auto& ty : axis_tiles(layout, grid, 'y', bands_y))
    for (auto& tx : axis_tiles(layout, grid, 'x', bands_x)) tiles.push_back({ty, tx});
  return tiles;
}

std::vector<GridArray> slice_grid(const GridLayout& layout, const GridInputs& grid, const Tile& tile) {
  std::vector<GridArray> out;
  for (const auto& spec : layout.input_specs()) {
    const GridArray& arr = grid.get(spec.name);
    const auto b = static_cast<std::size_t>(spec.block);
    GridArray part{spec.name, spec.dtype, {}, {}, {}};
    if (spec.kind == GridInputSpec::Kind::Coords) {
      const auto [r0, r1] = tile.rows[b];
      const auto [c0, c1] = tile.cols[b];
      const auto h = static_cast<std::size_t>(arr.shape[2]), w = static_cast<std::size_t>(arr.shape[3]);
      part.shape = {1, 2, r1 - r0, c1 - c0};
      for (std::size_t ch = 0; ch < 2; ++ch)
        for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r) {
          const auto row = arr.f32.begin() + static_cast<std::ptrdiff_t>(ch * h * w + r * w);
          part.f32.insert(part.f32.end(), row + c0, row + c1);
        }
    } else {
      const auto& spans = spec.axis == 'y' ? tile.rows : tile.cols;
      const auto [lo, hi] = spans[b];
      part.shape = {hi - lo};
      if (spec.kind == GridInputSpec::Kind::Index) {
        const int shift = spans[static_cast<std::size_t>(spec.source_block)].first;
        for (int i = lo; i < hi; ++i) part.i32.push_back(arr.i32[static_cast<std::size_t>(i)] - shift);
      } else {
        part.f32.assign(arr.f32.begin() + lo, arr.f32.begin() + hi);
      }
    }
    out.push_back(std::move(part));
  }
  return out;
}

std::int64_t activation_bytes(const std::vector<std::int64_t>& bytes_per_pixel, const std::vector<std::int64_t>& pixels) {
  std::int64_t total = 0;
  for (std::size_t b = 0; b < std::min(bytes_per_pixel.size(), pixels.size()); ++b) total += bytes_per_pixel[b] * pixels[b];
  return total;
}

std::int64_t largest_block_bytes(const std::vector<std::int64_t>& bytes_per_pixel, const std::vector<std::int64_t>& pixels) {
  std::int64_t largest = 0;
  for (std::size_t b = 0; b < std::min(bytes_per_pixel.size(), pixels.size()); ++b) largest = std::max(largest, bytes_per_pixel[b] * pixels[b]);
  return largest;
}

RenderPlan plan_render(const GridLayout& layout, const GridInputs& grid, const std::vector<std::int64_t>& bytes_per_pixel,
                       int batch, std::int64_t budget, std::int64_t block_cap, const PieceBounds* bounds) {
  std::vector<std::int64_t> pixels;
  for (const auto& s : grid.block_shapes) pixels.push_back(static_cast<std::int64_t>(s.height) * s.width);
  const std::int64_t per_sample = activation_bytes(bytes_per_pixel, pixels);
  const std::int64_t per_sample_block = largest_block_bytes(bytes_per_pixel, pixels);
  const auto fits = [&](std::int64_t total, std::int64_t block, std::int64_t k) { return total * k <= budget && (block_cap <= 0 || block * k <= block_cap); };
  const int cap = bounds ? std::min(batch, std::max(1, bounds->batch)) : batch;  // samples one run may take
  if (!bounds || bounds->holds(grid.block_shapes)) {
    if (fits(per_sample, per_sample_block, cap)) return {cap, {}};
    if (fits(per_sample, per_sample_block, 1)) {
      std::int64_t chunk = budget / std::max<std::int64_t>(1, per_sample);
      if (block_cap > 0) chunk = std::min(chunk, block_cap / std::max<std::int64_t>(1, per_sample_block));
      return {static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(chunk, cap))), {}};
    }
  }
  int by = 1, bx = 1;
  const int h0 = grid.block_shapes[0].height, w0 = grid.block_shapes[0].width;
  while (true) {
    auto tiles = make_tiles(layout, grid, by, bx);
    bool all_fit = true, within = true;
    for (const auto& t : tiles) {
      all_fit = all_fit && fits(activation_bytes(bytes_per_pixel, t.pixels()), largest_block_bytes(bytes_per_pixel, t.pixels()), 1);
      within = within && (!bounds || bounds->holds(t.block_shapes()));
    }
    if ((all_fit && within) || (by >= h0 && bx >= w0)) {
      if (!within) {
        const Size out = grid.output_shape();
        throw ShapeError("size " + std::to_string(out.height) + "x" + std::to_string(out.width) +
                         " cannot be split into pieces within this bundle's ExecuTorch bound (" + bounds->text() +
                         "): one row or column of the coarsest block alone spans more; render a smaller size or window, "
                         "or re-export with a larger --max-res");
      }
      return {1, std::move(tiles)};
    }
    // split the axis whose tiles are larger
    if ((by < h0 && static_cast<double>(h0) / by >= static_cast<double>(w0) / bx) || bx >= w0) by = std::min(h0, by * 2);
    else bx = std::min(w0, bx * 2);
  }
}

std::int64_t default_max_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const double total = (pages > 0 && page > 0) ? static_cast<double>(pages) * static_cast<double>(page) : 8.0 * (1LL << 30);
  return static_cast<std::int64_t>(std::min(4.0 * (1LL << 30), 0.4 * total));
}

}  // namespace inrgan::detail
