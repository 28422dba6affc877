// The backend seam: everything backend-specific hides behind these two small interfaces, so a
// new backend (TensorRT, a mobile runtime) is one new file, not a rewrite. The generator owns
// manifests, grids, tiling and outputs; a backend only loads graphs and runs them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grid.hpp"
#include "inrgan/inrgan.hpp"
#include "manifest.hpp"

namespace inrgan::detail {

// A named input in host memory, C order; the backend only reads it.
struct TensorView {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};

// One loaded graph (hypernet or inr) with a single float32 output.
class GraphRunner {
 public:
  virtual ~GraphRunner() = default;
  virtual std::vector<std::string> input_names() const = 0;
  // Runs the graph and copies its output, which must have `output_shape`, to `output`.
  virtual void run(const std::vector<TensorView>& inputs, const std::vector<std::int64_t>& output_shape, float* output) = 0;
};

// A backend opened on one device: loads the bundle's graphs for it.
class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  // `graph` is a key of the manifest's "graphs" ("hypernet", "inr").
  virtual std::unique_ptr<GraphRunner> load(const Manifest& manifest, const std::string& graph) = 0;
};

// Throws BackendUnavailable for a backend this build does not contain or a device it cannot use.
std::unique_ptr<DeviceBackend> open_backend(Backend backend, const std::string& device, const Options& options);

#ifdef INRGAN_WITH_OPENVINO
std::unique_ptr<DeviceBackend> open_openvino(const std::string& device, const Options& options);
#endif
#ifdef INRGAN_WITH_TENSORRT
std::unique_ptr<DeviceBackend> open_tensorrt(const std::string& device, const Options& options);
#endif
#ifdef INRGAN_WITH_ONNXRUNTIME
std::unique_ptr<DeviceBackend> open_onnxruntime(const std::string& device, const Options& options);
#endif
#ifdef INRGAN_WITH_EXECUTORCH
std::unique_ptr<DeviceBackend> open_executorch(const std::string& device, const Options& options);
#endif

}  // namespace inrgan::detail
