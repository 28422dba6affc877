// ONNX Runtime backend (its C++ API, a header-only layer over the versioned C API). Runs the
// bundle's graphs in ONNX Runtime's own format where the manifest names them
// (graphs.<name>.ort, target ort-mobile: the files a phone app ships) and the ONNX graphs
// otherwise. The same code builds against ONNX Runtime on Linux, Android and iOS; here it links
// the libonnxruntime of the Python wheel (cmake/FindOnnxRuntime.cmake). Only the CPU execution
// provider is used: the Linux wheel has no other, and the mobile usability check in the
// manifest says when NNAPI or Core ML would be worth adding on a phone.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <numeric>

#include "graph_runner.hpp"

namespace inrgan::detail {

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// One process-wide environment: ONNX Runtime expects a single OrtEnv per process.
Ort::Env& environment() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "inrgan");
  return env;
}

class OnnxRuntimeGraph final : public GraphRunner {
 public:
  OnnxRuntimeGraph(Ort::Session session, std::string label) : session_(std::move(session)), label_(std::move(label)) {
    Ort::AllocatorWithDefaultOptions allocator;
    for (std::size_t i = 0; i < session_.GetInputCount(); ++i) inputs_.emplace_back(session_.GetInputNameAllocated(i, allocator).get());
    if (session_.GetOutputCount() != 1)
      throw BackendError(label_ + " has " + std::to_string(session_.GetOutputCount()) + " outputs; expected 1");
    output_ = session_.GetOutputNameAllocated(0, allocator).get();
  }

  std::vector<std::string> input_names() const override { return inputs_; }

  void run(const std::vector<TensorView>& inputs, const std::vector<std::int64_t>& output_shape, float* output) override {
    const Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<Ort::Value> values;
    std::vector<const char*> names;
    values.reserve(inputs.size());
    for (const auto& in : inputs) {
      const auto count = static_cast<std::size_t>(
          std::accumulate(in.shape.begin(), in.shape.end(), std::int64_t{1}, std::multiplies<std::int64_t>()));
      // wraps the caller's memory; ONNX Runtime reads inputs and never writes them
      if (in.dtype == DType::Float32)
        values.push_back(Ort::Value::CreateTensor<float>(memory, static_cast<float*>(const_cast<void*>(in.data)), count,
                                                         in.shape.data(), in.shape.size()));
      else
        values.push_back(Ort::Value::CreateTensor<std::int32_t>(memory, static_cast<std::int32_t*>(const_cast<void*>(in.data)),
                                                                count, in.shape.data(), in.shape.size()));
      names.push_back(in.name.c_str());
    }
    const char* out_name = output_.c_str();
    std::vector<Ort::Value> results;
    try {
      results = session_.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), &out_name, 1);
    } catch (const Ort::Exception& e) {
      throw BackendError("ONNX Runtime failed running " + label_ + ": " + e.what());
    }
    const auto info = results.at(0).GetTensorTypeAndShapeInfo();
    const std::vector<std::int64_t> got = info.GetShape();
    if (got != output_shape || info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      throw BackendError(label_ + " returned " + shape_text(got) + " (element type " + std::to_string(info.GetElementType()) +
                         "); expected float32" + shape_text(output_shape));
    std::memcpy(output, results[0].GetTensorData<float>(), info.GetElementCount() * sizeof(float));
  }

 private:
  Ort::Session session_;
  std::string label_;
  std::vector<std::string> inputs_;
  std::string output_;
};

class OnnxRuntimeBackend final : public DeviceBackend {
 public:
  explicit OnnxRuntimeBackend(const Options& options) : options_(options) {}

  std::unique_ptr<GraphRunner> load(const Manifest& manifest, const std::string& graph) override {
    const bool ort_format = manifest.has_graph_file(graph, "ort");
    const std::string path = manifest.graph_path(graph, ort_format ? "ort" : "onnx");
    try {
      Ort::SessionOptions so;
      if (options_.threads > 0) so.SetIntraOpNumThreads(options_.threads);
      // said explicitly, as the Python backend does, rather than inferred from the file name
      if (ort_format) so.AddConfigEntry("session.load_model_format", "ORT");
      Ort::Session session(environment(), path.c_str(), so);
      return std::make_unique<OnnxRuntimeGraph>(std::move(session), graph + " (" + path + ")");
    } catch (const Ort::Exception& e) {
      throw BackendError("ONNX Runtime cannot load " + path + ": " + e.what());
    }
  }

 private:
  Options options_;
};

}  // namespace

std::unique_ptr<DeviceBackend> open_onnxruntime(const std::string& device, const Options& options) {
  std::string upper = device;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper != "CPU") throw BackendUnavailable("ONNX Runtime here runs on device CPU only, not '" + device + "'; available: CPU");
  // the versioned C API: a library older than these headers has no table for their version
  if (OrtGetApiBase()->GetApi(ORT_API_VERSION) == nullptr)
    throw BackendUnavailable(std::string("libonnxruntime ") + OrtGetApiBase()->GetVersionString() +
                             " is older than the ONNX Runtime headers this library was built with (C API version " +
                             std::to_string(ORT_API_VERSION) + ")");
  try {
    environment();
  } catch (const Ort::Exception& e) {
    throw BackendUnavailable(std::string("ONNX Runtime cannot start: ") + e.what());
  }
  return std::make_unique<OnnxRuntimeBackend>(options);
}

}  // namespace inrgan::detail
