// Backend names and the factory: which backends this build contains.
#include <algorithm>
#include <cctype>

#include "graph_runner.hpp"

namespace inrgan {

std::string to_string(Backend backend) {
  switch (backend) {
    case Backend::OpenVINO: return "openvino";
    case Backend::TensorRT: return "tensorrt";
    case Backend::OnnxRuntime: return "onnxruntime";
    case Backend::ExecuTorch: return "executorch";
  }
  return "unknown";
}

Backend parse_backend(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "openvino") return Backend::OpenVINO;
  if (lower == "tensorrt") return Backend::TensorRT;
  if (lower == "onnxruntime") return Backend::OnnxRuntime;
  if (lower == "executorch") return Backend::ExecuTorch;
  throw UsageError("unknown backend '" + name + "'; valid: openvino, tensorrt, onnxruntime, executorch");
}

bool is_built(Backend backend) {
  switch (backend) {
#ifdef INRGAN_WITH_OPENVINO
    case Backend::OpenVINO: return true;
#endif
#ifdef INRGAN_WITH_TENSORRT
    case Backend::TensorRT: return true;
#endif
#ifdef INRGAN_WITH_ONNXRUNTIME
    case Backend::OnnxRuntime: return true;
#endif
#ifdef INRGAN_WITH_EXECUTORCH
    case Backend::ExecuTorch: return true;
#endif
    default: return false;
  }
}

namespace detail {

std::unique_ptr<DeviceBackend> open_backend(Backend backend, const std::string& device, const Options& options) {
#ifdef INRGAN_WITH_OPENVINO
  if (backend == Backend::OpenVINO) return open_openvino(device, options);
#endif
#ifdef INRGAN_WITH_TENSORRT
  if (backend == Backend::TensorRT) return open_tensorrt(device, options);
#endif
#ifdef INRGAN_WITH_ONNXRUNTIME
  if (backend == Backend::OnnxRuntime) return open_onnxruntime(device, options);
#endif
#ifdef INRGAN_WITH_EXECUTORCH
  if (backend == Backend::ExecuTorch) return open_executorch(device, options);
#endif
  (void)device;
  (void)options;
  const char* how = backend == Backend::TensorRT ? " (configure with -DINRGAN_WITH_TENSORRT=ON on a machine with TensorRT and CUDA)"
                    : backend == Backend::OnnxRuntime
                        ? " (configure with -DINRGAN_WITH_ONNXRUNTIME=ON and the onnxruntime wheel in INRGAN_PYTHON)"
                    : backend == Backend::ExecuTorch
                        ? " (configure with -DINRGAN_WITH_EXECUTORCH=ON and the executorch wheel in INRGAN_PYTHON)"
                        : " (configure with -DINRGAN_WITH_OPENVINO=ON and OpenVINO's CMake config)";
  throw BackendUnavailable("backend " + to_string(backend) + " is not built into this inrgan library" + how);
}

}  // namespace detail
}  // namespace inrgan
