// TensorRT backend (C++ API: IRuntime, ICudaEngine, IExecutionContext, enqueueV3).
// Runs the serialized engines a TensorRT bundle names in graphs.<name>.tensorrt; engines are
// built for one GPU and TensorRT version, with the size range in interface.size_range.
// Compiled only with INRGAN_WITH_TENSORRT (TensorRT and CUDA found); written against the
// TensorRT 10/11 headers, not built or run on the machines this runtime was developed on.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <type_traits>

#include "graph_runner.hpp"

namespace inrgan::detail {

namespace {

void check_cuda(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw BackendError("CUDA failed to " + what + ": " + cudaGetErrorString(status));
}

class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* message) noexcept override {
    if (severity <= Severity::kWARNING) std::fprintf(stderr, "TensorRT: %s\n", message);
  }
};

// TensorRT needs the logger to outlive every runtime and engine: one for the process.
Logger& logger() {
  static Logger instance;
  return instance;
}

// Device memory that grows to the largest size asked for and is reused between runs.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* reserve(std::size_t bytes) {
    if (bytes > bytes_) {
      if (ptr_) check_cuda(cudaFree(ptr_), "free device memory");
      ptr_ = nullptr;
      bytes_ = 0;
      check_cuda(cudaMalloc(&ptr_, bytes), "allocate " + std::to_string(bytes) + " bytes of device memory");
      bytes_ = bytes;
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

nvinfer1::Dims to_dims(const std::vector<std::int64_t>& shape) {
  nvinfer1::Dims dims{};
  if (shape.size() > static_cast<std::size_t>(nvinfer1::Dims::MAX_DIMS)) throw BackendError("tensor rank over TensorRT's limit");
  dims.nbDims = static_cast<std::int32_t>(shape.size());
  using Extent = std::decay_t<decltype(dims.d[0])>;  // int64 since TensorRT 10, int32 before
  for (std::size_t i = 0; i < shape.size(); ++i) dims.d[i] = static_cast<Extent>(shape[i]);
  return dims;
}

std::vector<std::int64_t> from_dims(const nvinfer1::Dims& dims) {
  std::vector<std::int64_t> shape;
  for (std::int32_t i = 0; i < dims.nbDims; ++i) shape.push_back(static_cast<std::int64_t>(dims.d[i]));
  return shape;
}

std::size_t byte_count(const std::vector<std::int64_t>& shape) {
  std::size_t n = 4;  // float32 and int32 only
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::string dims_text(const nvinfer1::Dims& dims) {
  std::string out = "[";
  for (std::int32_t i = 0; i < dims.nbDims; ++i) out += (i ? ", " : "") + std::to_string(static_cast<long long>(dims.d[i]));
  return out + "]";
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Optimization profiles. An engine built with several profiles (e.g. small and large render
// sizes) accepts an input shape only inside the profile its execution context has selected;
// setInputShape() with a shape outside it fails. So every run picks a profile whose
// [kMIN, kMAX] covers every input's shape, and runs on an execution context set to it.
//
// Checked by reading TensorRT's API documentation (NvInferRuntime.h, TensorRT 10/11; it
// cannot be built or run here): ICudaEngine::getNbOptimizationProfiles();
// ICudaEngine::getProfileShape(tensorName, profileIndex, OptProfileSelector::kMIN/kMAX)
// gives an input's bounds in a profile (Dims{-1} for a name that is not an input);
// IExecutionContext::setOptimizationProfileAsync(profileIndex, stream) must be called
// before setInputShape() and is asynchronous on `stream`, so it is issued on the stream
// that enqueueV3() later uses (the docs call anything else undefined behaviour); a new
// context starts on profile 0; and a profile may be selected by only one context at a
// time, hence one context per profile, created on first use.
class ProfileContexts {
 public:
  ProfileContexts(nvinfer1::ICudaEngine& engine, std::string label) : engine_(engine), label_(std::move(label)) {}

  // The first profile whose bounds cover every input shape; ShapeError naming them if none.
  int select(const std::vector<TensorView>& inputs) const {
    const int profiles = engine_.getNbOptimizationProfiles();
    std::string why;
    for (int k = 0; k < profiles; ++k) {
      bool covers = true;
      for (const auto& in : inputs) {
        const nvinfer1::Dims lo = engine_.getProfileShape(in.name.c_str(), k, nvinfer1::OptProfileSelector::kMIN);
        const nvinfer1::Dims hi = engine_.getProfileShape(in.name.c_str(), k, nvinfer1::OptProfileSelector::kMAX);
        bool inside = lo.nbDims == static_cast<std::int32_t>(in.shape.size()) && hi.nbDims == lo.nbDims;
        for (std::int32_t d = 0; inside && d < lo.nbDims; ++d)
          inside = lo.d[d] <= in.shape[static_cast<std::size_t>(d)] && in.shape[static_cast<std::size_t>(d)] <= hi.d[d];
        if (!inside) {
          why += (why.empty() ? "" : "; ") + std::string("profile ") + std::to_string(k) + " takes " + in.name + " " + dims_text(lo) + " .. " +
                 dims_text(hi) + ", not " + shape_text(in.shape);
          covers = false;
          break;
        }
      }
      if (covers) return k;
    }
    throw ShapeError(label_ + ": no optimization profile covers these input shapes (" + (profiles ? why : std::string("the engine has none")) + ")");
  }

  // The execution context of profile k, set to it on `stream` when created.
  nvinfer1::IExecutionContext& context(int k, cudaStream_t stream) {
    auto& slot = contexts_[k];
    if (!slot) {
      std::unique_ptr<nvinfer1::IExecutionContext> ctx(engine_.createExecutionContext());
      if (!ctx) throw BackendError("TensorRT cannot create an execution context for " + label_ + " (GPU memory?)");
      if (!ctx->setOptimizationProfileAsync(k, stream))
        throw BackendError("TensorRT refused optimization profile " + std::to_string(k) + " of " + label_);
      slot = std::move(ctx);
    }
    return *slot;
  }

 private:
  nvinfer1::ICudaEngine& engine_;
  std::string label_;
  std::map<int, std::unique_ptr<nvinfer1::IExecutionContext>> contexts_;
};

class TensorRtGraph final : public GraphRunner {
 public:
  TensorRtGraph(std::shared_ptr<nvinfer1::IRuntime> runtime, std::unique_ptr<nvinfer1::ICudaEngine> engine, std::string label)
      : runtime_(std::move(runtime)), engine_(std::move(engine)), label_(std::move(label)), profiles_(*engine_, label_) {
    check_cuda(cudaStreamCreate(&stream_), "create a stream");
    for (std::int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
      const std::string name = engine_->getIOTensorName(i);
      if (engine_->getTensorIOMode(name.c_str()) == nvinfer1::TensorIOMode::kINPUT) inputs_.push_back(name);
      else outputs_.push_back(name);
    }
    if (outputs_.size() != 1) throw BackendError(label_ + " has " + std::to_string(outputs_.size()) + " outputs; expected one");
  }
  ~TensorRtGraph() override {
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::vector<std::string> input_names() const override { return inputs_; }

  void run(const std::vector<TensorView>& inputs, const std::vector<std::int64_t>& output_shape, float* output) override {
    nvinfer1::IExecutionContext& context = profiles_.context(profiles_.select(inputs), stream_);
    for (const auto& in : inputs) {
      const auto want = in.dtype == DType::Float32 ? nvinfer1::DataType::kFLOAT : nvinfer1::DataType::kINT32;
      if (engine_->getTensorDataType(in.name.c_str()) != want) throw BackendError(label_ + " input " + in.name + " has another data type in the engine");
      if (!context.setInputShape(in.name.c_str(), to_dims(in.shape)))
        throw ShapeError(label_ + " input " + in.name + " " + shape_text(in.shape) + " is refused by the selected optimization profile");
      const std::size_t bytes = byte_count(in.shape);
      void* device = buffers_[in.name].reserve(bytes);
      check_cuda(cudaMemcpyAsync(device, in.data, bytes, cudaMemcpyHostToDevice, stream_), "copy " + in.name + " to the device");
      context.setTensorAddress(in.name.c_str(), device);
    }
    const std::string& out_name = outputs_.front();
    const auto shape = from_dims(context.getTensorShape(out_name.c_str()));
    if (shape != output_shape) throw BackendError(label_ + " would return another output shape than the runtime expects");
    const std::size_t bytes = byte_count(shape);
    void* device_out = buffers_[out_name].reserve(bytes);
    context.setTensorAddress(out_name.c_str(), device_out);
    if (!context.enqueueV3(stream_)) throw BackendError("TensorRT failed to enqueue " + label_);
    check_cuda(cudaMemcpyAsync(output, device_out, bytes, cudaMemcpyDeviceToHost, stream_), "copy the output to the host");
    check_cuda(cudaStreamSynchronize(stream_), "finish " + label_);
  }

 private:
  std::shared_ptr<nvinfer1::IRuntime> runtime_;  // destroyed after the engine and context below
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::string label_;
  ProfileContexts profiles_;  // destroyed before the engine above
  cudaStream_t stream_ = nullptr;
  std::vector<std::string> inputs_, outputs_;
  std::map<std::string, DeviceBuffer> buffers_;
};

// "cuda", "cuda:N", "GPU", "GPU.N" -> N
int device_index(const std::string& device) {
  std::string lower;
  for (char c : device) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string prefix : {"cuda", "gpu"}) {
    if (lower.rfind(prefix, 0) != 0) continue;
    const std::string rest = lower.substr(prefix.size());
    if (rest.empty()) return 0;
    if ((rest[0] == ':' || rest[0] == '.') && rest.size() > 1 && rest.find_first_not_of("0123456789", 1) == std::string::npos)
      return std::stoi(rest.substr(1));
  }
  throw BackendUnavailable("TensorRT runs on CUDA devices: device '" + device + "' is not cuda, cuda:N, GPU or GPU.N");
}

class TensorRtBackend final : public DeviceBackend {
 public:
  explicit TensorRtBackend(const std::string& device) {
    const int index = device_index(device);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || index >= count)
      throw BackendUnavailable("TensorRT: no CUDA device " + std::to_string(index) + " here (" + std::to_string(count) + " found)");
    check_cuda(cudaSetDevice(index), "select device " + std::to_string(index));
    runtime_.reset(nvinfer1::createInferRuntime(logger()));
    if (!runtime_) throw BackendUnavailable("TensorRT cannot create its runtime");
  }

  std::unique_ptr<GraphRunner> load(const Manifest& manifest, const std::string& graph) override {
    const std::string path = manifest.graph_path(graph, "tensorrt");
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<nvinfer1::ICudaEngine> engine(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    if (!engine) throw BackendError("TensorRT cannot load " + path + " (built for another TensorRT version or GPU?)");
    return std::make_unique<TensorRtGraph>(runtime_, std::move(engine), graph + " (" + path + ")");
  }

 private:
  std::shared_ptr<nvinfer1::IRuntime> runtime_;  // shared: engines must not outlive it
};

}  // namespace

std::unique_ptr<DeviceBackend> open_tensorrt(const std::string& device, const Options& /*options*/) {
  return std::make_unique<TensorRtBackend>(device);
}

}  // namespace inrgan::detail
