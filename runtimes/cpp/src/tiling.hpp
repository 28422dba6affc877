// Splitting a render to stay within a memory budget (as inrgan_export/backends/base.py's plan
// and grid.py's tiles): batch chunks first; if one sample alone is over budget, tiles along the
// first block's grid. Every output pixel depends only on the samples its indices name, so a
// tile computes exactly what the full render computes for its pixels.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "grid.hpp"

namespace inrgan::detail {

using Span = std::pair<int, int>;  // [lo, hi)

struct Tile {
  std::vector<Span> rows;  // per block
  std::vector<Span> cols;  // per block
  std::vector<std::int64_t> pixels() const;
  std::vector<Size> block_shapes() const;
};

// bands_y x bands_x tiles along the first block's grid, followed down to every block.
std::vector<Tile> make_tiles(const GridLayout& layout, const GridInputs& grid, int bands_y, int bands_x);

// The grid inputs of one tile: coordinates cropped, index vectors cropped and shifted to the
// tile's source span.
std::vector<GridArray> slice_grid(const GridLayout& layout, const GridInputs& grid, const Tile& tile);

// The largest piece one run may be (ExecuTorch programs are bounded at export): at most
// `batch` samples, block b at most blocks[b] (h, w).
struct PieceBounds {
  int batch = 0;
  std::vector<Size> blocks;
  bool holds(const std::vector<Size>& shapes) const;
  std::string text() const;  // "blocks up to 7x7, 15x15, 32x32; batch up to 4"
};

struct RenderPlan {
  int batch_chunk = 1;
  std::vector<Tile> tiles;  // empty: the whole grid in one piece
};

std::int64_t activation_bytes(const std::vector<std::int64_t>& bytes_per_pixel, const std::vector<std::int64_t>& pixels);

// `block_cap` > 0 also bounds the estimate of any one block of a run (bytes_per_pixel[b] x
// pixels of block b x batch): a backend limit on single tensors (see generator.cpp).
// `bounds` (not null) also bounds every piece's batch and block shapes, as the Python
// planner's batch_bound/piece_bounds: batch chunks within the batch bound, tiles where the
// grid is larger than the block bounds; a ShapeError where no split of the grid fits them.
RenderPlan plan_render(const GridLayout& layout, const GridInputs& grid, const std::vector<std::int64_t>& bytes_per_pixel,
                       int batch, std::int64_t budget, std::int64_t block_cap = 0, const PieceBounds* bounds = nullptr);

// 40 % of physical memory, at most 4 GiB: the activation budget of one INR run.
std::int64_t default_max_memory();

}  // namespace inrgan::detail
