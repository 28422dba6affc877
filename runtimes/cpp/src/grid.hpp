// Coordinate grids, the size rule and the resampling indices: everything the INR graph takes
// besides theta, rebuilt from the manifest's interface.grid exactly as inrgan_export/core/grid.py
// computes it (float32 arithmetic step by step; this code is built without fused
// multiply-add so every product and sum is rounded separately, as numpy does).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "inrgan/inrgan.hpp"

namespace inrgan::detail {

constexpr int kMaxSide = 65536;  // largest render side accepted anywhere (as the Python side)

// Maps an output size to every INR block's grid size along one axis.
class SizeRule {
 public:
  virtual ~SizeRule() = default;
  virtual int num_blocks() const = 0;
  virtual std::vector<int> block_sizes_1d(int n) const = 0;
};

// Size rule kind "paper-exp": the authors' generate_exp_img_sizes, per axis, for any n >= 1.
class PaperExpSizeRule : public SizeRule {
 public:
  PaperExpSizeRule(int native, int num_blocks, int upsample_block_idx)
      : native_(native), num_blocks_(num_blocks), upsample_block_idx_(upsample_block_idx) {}
  int num_blocks() const override { return num_blocks_; }
  std::vector<int> block_sizes_1d(int n) const override;

 private:
  int native_, num_blocks_, upsample_block_idx_;
};

// Size rule kind "halving": the last block's grid is n, each coarser block's the next one's
// integer half, never below 1 sample (grid.py's HalvingSizeRule).
class HalvingSizeRule : public SizeRule {
 public:
  explicit HalvingSizeRule(int num_blocks) : num_blocks_(num_blocks) {}
  int num_blocks() const override { return num_blocks_; }
  std::vector<int> block_sizes_1d(int n) const override;

 private:
  int num_blocks_;
};

// Network coordinate = offset + scale * u per axis (x, then y); u in native-image units.
// With y_up (manifest coordinates kind "y-up"), y is measured from the window's bottom edge
// and sampled at each pixel's bottom edge: the x formula over [1 - y1, 1 - y0], reversed
// (grid.py's YUpCoordConvention).
struct CoordConvention {
  float offset[2] = {0.0f, 0.0f};
  float scale[2] = {1.0f, 1.0f};
  bool y_up = false;
  std::vector<float> axis(int n, float lo, float hi, int axis) const;

 private:
  std::vector<float> base_axis(int n, float lo, float hi, int axis) const;
};

enum class ResampleMode { Nearest, Bilinear };

std::vector<std::int32_t> nearest_indices(int n_src, int n_dst);

struct LinearIndices {
  std::vector<std::int32_t> i0, i1;
  std::vector<float> w1;  // out = x[i0] * (1 - w1) + x[i1] * w1
};
LinearIndices linear_indices(int n_src, int n_dst, bool align_corners);

enum class DType { Float32, Int32 };

struct GridInputSpec {
  enum class Kind { Coords, Index, Weight };
  std::string name;
  Kind kind = Kind::Coords;
  int block = 0;          // destination block
  char axis = 0;          // 'y' or 'x' for index and weight inputs
  int source_block = -1;  // for index and weight inputs
  DType dtype = DType::Float32;
};

// One per-grid input: coords [1, 2, h, w] (expanded to the batch when fed) or a vector [n].
struct GridArray {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<std::int64_t> shape;
  std::vector<float> f32;
  std::vector<std::int32_t> i32;
  const void* data() const { return dtype == DType::Float32 ? static_cast<const void*>(f32.data()) : i32.data(); }
};

struct GridInputs {
  std::vector<Size> block_shapes;
  std::vector<GridArray> arrays;  // in the order of GridLayout::input_specs()
  Size output_shape() const { return block_shapes.back(); }
  const GridArray& get(const std::string& name) const;
};

struct GridLayout {
  std::shared_ptr<const SizeRule> size_rule;
  CoordConvention coords;
  ResampleMode resample_mode = ResampleMode::Nearest;
  bool align_corners = false;
  std::vector<std::pair<int, int>> edges;  // (source block, destination block)

  int num_blocks() const { return size_rule->num_blocks(); }
  std::vector<Size> block_shapes(Size size) const;
  std::vector<GridInputSpec> input_specs() const;
  GridInputs build(Size size, Window window) const;
};

// Throws ShapeError unless 1 <= height, width <= 65536.
void check_size(Size size);
// Throws UsageError unless the window is finite and non-empty.
void check_window(const Window& window);

}  // namespace inrgan::detail
