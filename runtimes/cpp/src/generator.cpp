// inrgan::Generator: input checks, the per-grid inputs (cached per size and window), render
// planning, and the calls into the backend, as inrgan_export/backends/base.py does them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <list>
#include <optional>

#include "graph_runner.hpp"
#include "render_limits.hpp"
#include "tiling.hpp"

namespace inrgan {

namespace {

constexpr std::size_t kGridCacheSize = 16;

// OpenVINO's CPU plugin (2026.4) returns wrong values once one intermediate tensor of an INR
// run reaches 2 GiB: demo:released-church at 256x256 with batch 2, or at 363x363 with batch 1,
// differs from ONNX Runtime and from the same render split in two by up to ~2 (the
// second sample, or a band of pixels), while 255x255 with batch 2 is right. The largest tensor
// there is 4/3 of the manifest's per-block estimate (bytes_per_pixel x pixels), so runs are
// split to keep every block's estimate within 1 GiB (largest tensor <= ~1.4 GiB).
constexpr std::int64_t kOpenVinoBlockCap = std::int64_t{1} << 30;

struct GridKey {
  int height, width;
  float x0, y0, x1, y1;
  bool operator==(const GridKey& o) const {
    return height == o.height && width == o.width && x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1;
  }
};

// A flat [N, width] matrix: N >= 1 rows, finite values.
int check_matrix(const float* values, std::size_t count, int width, const char* what, const char* field) {
  const std::string takes = "; this generator takes [N, " + std::to_string(width) + "] (" + field + "=" + std::to_string(width) + ")";
  if (count == 0 || values == nullptr) throw ShapeError(std::string(what) + " has no values; need at least one row" + takes);
  if (count % static_cast<std::size_t>(width) != 0)
    throw ShapeError(std::string(what) + " has " + std::to_string(count) + " values, not a whole number of rows" + takes);
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i]))
      throw InputValueError(std::string(what) + " row " + std::to_string(i / static_cast<std::size_t>(width)) +
                            " contains NaN or Inf; every value must be finite");
  return static_cast<int>(count / static_cast<std::size_t>(width));
}

int check_matrix(const std::vector<float>& values, int width, const char* what, const char* field) {
  return check_matrix(values.data(), values.size(), width, what, field);
}

// Coordinates are stored for one sample; a batch of k repeats them k times.
std::vector<float> repeat(const std::vector<float>& one, int k) {
  std::vector<float> out;
  out.reserve(one.size() * static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) out.insert(out.end(), one.begin(), one.end());
  return out;
}

}  // namespace

struct Generator::Impl {
  detail::Manifest manifest;
  Backend backend = Backend::OpenVINO;
  std::string device;
  Options options;
  std::unique_ptr<detail::DeviceBackend> engine;
  std::unique_ptr<detail::GraphRunner> hypernet_graph, inr_graph;
  std::list<std::pair<GridKey, detail::GridInputs>> grid_cache;  // most recent first
  int last_pieces = 0;
  std::optional<detail::PieceBounds> bounds;  // ExecuTorch: the programs' dims are bounded at export

  const detail::GridInputs& grid(Size size, Window window) {
    detail::check_size(size);
    if (manifest.size_range) {
      const auto& [lo, hi] = *manifest.size_range;
      if (size.height < lo.height || size.height > hi.height || size.width < lo.width || size.width > hi.width)
        throw ShapeError("size " + std::to_string(size.height) + "x" + std::to_string(size.width) + " is outside this bundle's compiled range " +
                         std::to_string(lo.height) + "x" + std::to_string(lo.width) + " .. " + std::to_string(hi.height) + "x" +
                         std::to_string(hi.width));
    }
    const GridKey key{size.height, size.width, window.x0, window.y0, window.x1, window.y1};
    for (auto it = grid_cache.begin(); it != grid_cache.end(); ++it) {
      if (it->first == key) {
        grid_cache.splice(grid_cache.begin(), grid_cache, it);
        return grid_cache.front().second;
      }
    }
    grid_cache.emplace_front(key, manifest.layout.build(size, window));
    if (grid_cache.size() > kGridCacheSize) grid_cache.pop_back();
    return grid_cache.front().second;
  }

  // One INR run: theta rows [k, theta_dim] with the grid arrays of one piece -> [k, 3, h, w].
  void run_inr(const float* theta, int k, const std::vector<detail::GridArray>& arrays, Size out_shape, float* out) {
    std::vector<detail::TensorView> feeds;
    feeds.push_back({manifest.theta_name, detail::DType::Float32, {k, manifest.theta_dim}, theta});
    std::vector<std::vector<float>> expanded;  // keeps repeated coordinates alive during the run
    expanded.reserve(arrays.size());
    for (const auto& a : arrays) {
      detail::TensorView view{a.name, a.dtype, a.shape, a.data()};
      if (a.shape.size() == 4 && k > 1) {  // coordinates [1, 2, h, w] -> [k, 2, h, w]
        expanded.push_back(repeat(a.f32, k));
        view.shape[0] = k;
        view.data = expanded.back().data();
      }
      feeds.push_back(std::move(view));
    }
    inr_graph->run(feeds, {k, 3, out_shape.height, out_shape.width}, out);
  }
};

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::Generator(Generator&&) noexcept = default;
Generator& Generator::operator=(Generator&&) noexcept = default;
Generator::~Generator() = default;

Generator Generator::open(const std::string& bundle_dir, Backend backend, const std::string& device, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->manifest = detail::read_manifest(bundle_dir, options.verify_checksums);
  // a backend whose recorded gate failed renders images known to be wrong (Python's open_bundle)
  const std::string why = detail::failed_gate(impl->manifest.gates, to_string(backend));
  if (!why.empty() && !options.allow_failed_parity)
    throw ParityError("bundle " + bundle_dir + " refuses backend " + to_string(backend) + ": " + why + "; run `inrgan-export verify " +
                      bundle_dir + "` for the report, or pass --allow-failed-parity (Options::allow_failed_parity) to use it anyway");
  impl->backend = backend;
  impl->device = !device.empty() ? device
                 : backend == Backend::TensorRT ? "cuda:0"
                 : !impl->manifest.openvino_device.empty() ? impl->manifest.openvino_device
                                                           : "CPU";
  impl->options = options;
  impl->engine = detail::open_backend(backend, impl->device, options);
  if (backend == Backend::ExecuTorch && impl->manifest.executorch_batch)
    impl->bounds = detail::PieceBounds{*impl->manifest.executorch_batch, impl->manifest.executorch_blocks};
  impl->hypernet_graph = impl->engine->load(impl->manifest, "hypernet");
  impl->inr_graph = impl->engine->load(impl->manifest, "inr");

  // the graphs must take exactly the inputs the manifest promises
  const auto& m = impl->manifest;
  std::vector<std::string> inr_inputs{m.theta_name}, hypernet_inputs{m.z_name};
  for (const auto& spec : m.layout.input_specs()) inr_inputs.push_back(spec.name);
  for (const auto& extra : m.extra_inputs) hypernet_inputs.push_back(extra.name);
  const std::pair<const char*, std::vector<std::string>> expected[] = {{"hypernet", hypernet_inputs}, {"inr", inr_inputs}};
  for (const auto& [graph, names] : expected) {
    auto have = (std::string(graph) == "hypernet" ? impl->hypernet_graph : impl->inr_graph)->input_names();
    auto want = names;
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    if (have != want) {
      std::string a, b;
      for (const auto& n : have) a += (a.empty() ? "" : ",") + n;
      for (const auto& n : want) b += (b.empty() ? "" : ",") + n;
      throw BundleError("graph '" + std::string(graph) + "' takes inputs " + a + " but field 'interface' names " + b);
    }
  }
  return Generator(std::move(impl));
}

int Generator::z_dim() const { return impl_->manifest.z_dim; }
int Generator::theta_dim() const { return impl_->manifest.theta_dim; }
Size Generator::native_size() const { return impl_->manifest.native_size; }
DisplayMapping Generator::display() const { return impl_->manifest.display; }
Backend Generator::backend() const { return impl_->backend; }
const std::string& Generator::device() const { return impl_->device; }
int Generator::last_render_pieces() const { return impl_->last_pieces; }

std::vector<HypernetInputInfo> Generator::extra_hypernet_inputs() const {
  std::vector<HypernetInputInfo> out;
  for (const auto& e : impl_->manifest.extra_inputs) out.push_back({e.name, e.neutral});
  return out;
}

const std::vector<ParityGate>& Generator::parity_gates() const { return impl_->manifest.gates.rules; }

std::vector<float> Generator::hypernet(const std::vector<float>& z, const HypernetInputs& extra) {
  const auto& m = impl_->manifest;
  const int n = check_matrix(z, m.z_dim, "latent", "z_dim");
  for (const auto& [name, values] : extra) {
    const bool known = std::any_of(m.extra_inputs.begin(), m.extra_inputs.end(), [&](const auto& e) { return e.name == name; });
    if (!known) {
      std::string valid;
      for (const auto& e : m.extra_inputs) valid += (valid.empty() ? "" : ", ") + e.name;
      throw UsageError("hypernetwork input '" + name + "' is not one of this generator's; " +
                       (valid.empty() ? std::string("it takes only the latent ") + m.z_name : "valid: " + valid));
    }
  }
  // one float per sample for every extra input: the caller's (one value or one per sample)
  // or the manifest's neutral value
  std::vector<std::vector<float>> columns;
  columns.reserve(m.extra_inputs.size());
  for (const auto& e : m.extra_inputs) {
    const auto it = extra.find(e.name);
    if (it == extra.end()) {
      columns.emplace_back(static_cast<std::size_t>(n), e.neutral);
      continue;
    }
    const auto& values = it->second;
    if (values.size() != 1 && values.size() != static_cast<std::size_t>(n))
      throw ShapeError("hypernetwork input '" + e.name + "' has " + std::to_string(values.size()) + " values; give 1 or one per latent (" +
                       std::to_string(n) + ")");
    for (const float v : values)
      if (!std::isfinite(v)) throw InputValueError("hypernetwork input '" + e.name + "' contains NaN or Inf; every value must be finite");
    columns.push_back(values.size() == 1 ? std::vector<float>(static_cast<std::size_t>(n), values[0]) : values);
  }
  std::vector<float> theta(static_cast<std::size_t>(n) * static_cast<std::size_t>(m.theta_dim));
  // in runs of at most the batch bound (ExecuTorch) and of what fits the memory budget (θ and
  // a few activations of its width per row, as the Python runtime), so many latents never
  // run at once
  const std::int64_t budget = impl_->options.max_memory ? static_cast<std::int64_t>(impl_->options.max_memory) : detail::default_max_memory();
  const std::int64_t per_row = 16 * (static_cast<std::int64_t>(m.z_dim) + m.theta_dim);
  const int fits = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n, budget / per_row)));
  const int step = std::min(impl_->bounds ? std::max(1, impl_->bounds->batch) : n, fits);
  for (int start = 0; start < n; start += step) {
    const int k = std::min(step, n - start);
    const auto row = static_cast<std::size_t>(start);
    std::vector<detail::TensorView> feeds{{m.z_name, detail::DType::Float32, {k, m.z_dim}, z.data() + row * static_cast<std::size_t>(m.z_dim)}};
    for (std::size_t c = 0; c < columns.size(); ++c) feeds.push_back({m.extra_inputs[c].name, detail::DType::Float32, {k}, columns[c].data() + row});
    try {
      impl_->hypernet_graph->run(feeds, {k, m.theta_dim}, theta.data() + row * static_cast<std::size_t>(m.theta_dim));
    } catch (const BackendError& e) {
      // the latents and θ are sized by the manifest: a hypernetwork that refuses them, or
      // returns another θ, does not match its manifest (a damaged or hostile bundle)
      std::string why = e.what();
      std::replace(why.begin(), why.end(), '\n', ' ');
      throw BundleError("graph 'hypernet' does not match fields 'interface.z_dim' (" + std::to_string(m.z_dim) + ") and 'interface.theta_dim' (" +
                        std::to_string(m.theta_dim) + "): " + why.substr(0, 400));
    }
  }
  return theta;
}

std::size_t Generator::output_values(int batch, Size size) {
  return static_cast<std::size_t>(std::max(batch, 0)) * 3 * static_cast<std::size_t>(std::max(size.height, 0)) *
         static_cast<std::size_t>(std::max(size.width, 0));
}

Images Generator::render(const std::vector<float>& theta, Size size, Window window) {
  const int n = check_matrix(theta, impl_->manifest.theta_dim, "theta", "theta_dim");
  detail::check_size(size);
  const std::int64_t budget = impl_->options.max_memory ? static_cast<std::int64_t>(impl_->options.max_memory) : detail::default_max_memory();
  detail::check_render_bytes(impl_->manifest.layout, n, size, budget);  // before the output is allocated
  Images images{n, size.height, size.width, {}};
  images.data.resize(output_values(n, size));
  render(theta.data(), theta.size(), size, window, images.data.data(), images.data.size());
  return images;
}

int Generator::render(const float* theta, std::size_t theta_count, Size size, Window window, float* out, std::size_t out_capacity) {
  const auto& m = impl_->manifest;
  const int n = check_matrix(theta, theta_count, m.theta_dim, "theta", "theta_dim");
  const std::int64_t budget = impl_->options.max_memory ? static_cast<std::int64_t>(impl_->options.max_memory) : detail::default_max_memory();
  detail::check_size(size);
  detail::check_render_bytes(m.layout, n, size, budget);  // before the grid and output are allocated
  const detail::GridInputs& grid = impl_->grid(size, window);
  const Size out_shape = grid.output_shape();
  const std::size_t needed = output_values(n, out_shape);
  if (out == nullptr || out_capacity < needed)
    throw ShapeError("output buffer holds " + std::to_string(out == nullptr ? 0 : out_capacity) + " floats; a render of " + std::to_string(n) +
                     " x 3 x " + std::to_string(out_shape.height) + " x " + std::to_string(out_shape.width) + " needs " + std::to_string(needed));
  const std::int64_t block_cap = impl_->backend == Backend::OpenVINO ? kOpenVinoBlockCap : 0;
  const detail::RenderPlan plan =
      detail::plan_render(m.layout, grid, m.bytes_per_pixel, n, budget, block_cap, impl_->bounds ? &*impl_->bounds : nullptr);

  const std::size_t image_values = 3 * static_cast<std::size_t>(out_shape.height) * static_cast<std::size_t>(out_shape.width);
  const auto theta_row = static_cast<std::size_t>(m.theta_dim);
  impl_->last_pieces = 0;
  for (int start = 0; start < n; start += plan.batch_chunk) {
    const int k = std::min(plan.batch_chunk, n - start);
    const float* theta_part = theta + static_cast<std::size_t>(start) * theta_row;
    float* out_part = out + static_cast<std::size_t>(start) * image_values;
    if (plan.tiles.empty()) {  // the whole grid: the backend writes straight into the result
      impl_->run_inr(theta_part, k, grid.arrays, out_shape, out_part);
      ++impl_->last_pieces;
      continue;
    }
    for (const auto& tile : plan.tiles) {
      const auto [y0, y1] = tile.rows.back();
      const auto [x0, x1] = tile.cols.back();
      const Size tile_shape{y1 - y0, x1 - x0};
      std::vector<float> piece(static_cast<std::size_t>(k) * 3 * static_cast<std::size_t>(tile_shape.height) * static_cast<std::size_t>(tile_shape.width));
      impl_->run_inr(theta_part, k, detail::slice_grid(m.layout, grid, tile), tile_shape, piece.data());
      ++impl_->last_pieces;
      const auto tw = static_cast<std::size_t>(tile_shape.width), w = static_cast<std::size_t>(out_shape.width);
      for (std::size_t plane = 0; plane < static_cast<std::size_t>(k) * 3; ++plane)
        for (std::size_t r = 0; r < static_cast<std::size_t>(tile_shape.height); ++r)
          std::memcpy(out_part + plane * (image_values / 3) + (static_cast<std::size_t>(y0) + r) * w + static_cast<std::size_t>(x0),
                      piece.data() + (plane * static_cast<std::size_t>(tile_shape.height) + r) * tw, tw * sizeof(float));
    }
  }
  return n;
}

Images Generator::generate(const std::vector<float>& z, Size size, Window window, const HypernetInputs& extra) {
  return render(hypernet(z, extra), size, window);
}

}  // namespace inrgan
