// inrgan-grid-dump: writes the per-grid inputs the C++ runtime computes, so the Python tests
// can compare them byte for byte with inrgan_export.core.grid:
//   inrgan-grid-dump GRID.json HxW X0,Y0,X1,Y1 OUTDIR [BANDS_Y,BANDS_X]
// GRID.json is a manifest's interface.grid object. OUTDIR gets <input>.npy for every input;
// with bands, also tiles.json (per tile, per block row/column spans) and tile<k>/<input>.npy.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <filesystem>

#include "manifest.hpp"
#include "npy.hpp"
#include "render_args.hpp"
#include "tiling.hpp"

namespace {

namespace fs = std::filesystem;
using namespace inrgan::detail;

void dump(const fs::path& dir, const std::vector<GridArray>& arrays) {
  fs::create_directories(dir);
  for (const auto& a : arrays) {
    const bool f32 = a.dtype == DType::Float32;
    const std::string header = npy_header(f32 ? "<f4" : "<i4", a.shape);
    std::ofstream out(dir / (a.name + ".npy"), std::ios::binary);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(a.data()), static_cast<std::streamsize>((f32 ? a.f32.size() : a.i32.size()) * 4));
  }
}

std::string spans_json(const std::vector<Span>& spans) {
  std::string out = "[";
  for (std::size_t i = 0; i < spans.size(); ++i)
    out += (i ? ", [" : "[") + std::to_string(spans[i].first) + ", " + std::to_string(spans[i].second) + "]";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: inrgan-grid-dump GRID.json HxW X0,Y0,X1,Y1 OUTDIR [BANDS_Y,BANDS_X]\n");
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    const GridLayout layout = grid_layout_from_json(text.str());
    const GridInputs grid = layout.build(inrgan::cli::parse_size(argv[2]), inrgan::cli::parse_window(argv[3]));
    const fs::path out(argv[4]);
    dump(out, grid.arrays);
    if (argc == 6) {
      int by = 1, bx = 1;
      if (std::sscanf(argv[5], "%d,%d", &by, &bx) != 2) throw inrgan::UsageError("bands must be BY,BX");
      const auto tiles = make_tiles(layout, grid, by, bx);
      std::ofstream spans(out / "tiles.json");
      spans << "[";
      for (std::size_t k = 0; k < tiles.size(); ++k) {
        spans << (k ? ", " : "") << "{\"rows\": " << spans_json(tiles[k].rows) << ", \"cols\": " << spans_json(tiles[k].cols) << "}";
        dump(out / ("tile" + std::to_string(k)), slice_grid(layout, grid, tiles[k]));
      }
      spans << "]\n";
    }
  } catch (const inrgan::Error& e) {
    std::fprintf(stderr, "inrgan-grid-dump: error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
