// A render's bytes checked before anything is allocated (as inrgan_export/app/render.py): the
// dense coordinate grid of every block and the float32 output must fit the memory budget;
// beyond it, one line naming the largest size of the same aspect ratio that fits.
#pragma once

#include <cstdint>

#include "grid.hpp"

namespace inrgan::detail {

// Bytes of the grid inputs and the [n, 3, H, W] float32 output of one render.
std::int64_t render_bytes(const GridLayout& layout, int n, Size size);

// ShapeError naming the largest size within `budget` when render_bytes exceeds it.
void check_render_bytes(const GridLayout& layout, int n, Size size, std::int64_t budget);

}  // namespace inrgan::detail
