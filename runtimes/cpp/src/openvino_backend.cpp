// OpenVINO backend (C++ API, ov::Core). Reads the bundle's IR where it has one
// (graphs.<name>.openvino), otherwise the ONNX graph, which OpenVINO reads directly.
// The inference precision is always set explicitly: left alone, the CPU plugin runs bf16 on
// CPUs that have it, which moves outputs by ~6e-3.
#include <openvino/openvino.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "bundle_paths.hpp"
#include "checksum.hpp"
#include "graph_runner.hpp"

namespace inrgan::detail {

namespace {

// OpenVINO's messages carry source locations and several lines; keep the informative line.
std::string short_message(const std::exception& e) {
  std::istringstream lines(e.what());
  std::string line, best;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("Exception from", 0) == 0) continue;
    best = line;
    break;
  }
  return best.empty() ? std::string(e.what()) : best;
}

ov::element::Type precision_type(const std::string& hint) {
  if (hint == "bf16") return ov::element::bf16;
  if (hint == "f16") return ov::element::f16;
  return ov::element::f32;  // "f32" (the manifest reader accepts nothing else)
}

ov::element::Type element_type(DType dtype) { return dtype == DType::Float32 ? ov::element::f32 : ov::element::i32; }

class OpenVinoGraph final : public GraphRunner {
 public:
  OpenVinoGraph(ov::CompiledModel compiled, std::string label) : compiled_(std::move(compiled)), label_(std::move(label)) {
    request_ = compiled_.create_infer_request();
  }

  std::vector<std::string> input_names() const override {
    std::vector<std::string> names;
    for (const auto& port : compiled_.inputs()) names.push_back(port.get_any_name());
    return names;
  }

  void run(const std::vector<TensorView>& inputs, const std::vector<std::int64_t>& output_shape, float* output) override {
    try {
      for (const auto& in : inputs) {
        // wraps the caller's memory; OpenVINO reads inputs and never writes them
        const ov::Shape shape(in.shape.begin(), in.shape.end());
        request_.set_tensor(in.name, ov::Tensor(element_type(in.dtype), shape, const_cast<void*>(in.data)));
      }
      request_.infer();
    } catch (const ov::Exception& e) {
      throw BackendError("OpenVINO failed running " + label_ + ": " + short_message(e));
    }
    const ov::Tensor out = request_.get_output_tensor(0);
    const ov::Shape expected(output_shape.begin(), output_shape.end());
    if (out.get_shape() != expected || out.get_element_type() != ov::element::f32)
      throw BackendError(label_ + " returned " + out.get_element_type().get_type_name() + out.get_shape().to_string() +
                         "; expected f32" + expected.to_string());
    std::memcpy(output, out.data(), out.get_byte_size());
  }

 private:
  ov::CompiledModel compiled_;
  ov::InferRequest request_;
  std::string label_;
};

bool is_virtual(const std::string& device) {
  const std::string base = device.substr(0, device.find_first_of(".:"));
  return base == "AUTO" || base == "HETERO" || base == "MULTI" || base == "BATCH";
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Every run of characters outside `keep` becomes one "_" (Python's re.sub(r"[^...]+", "_", s)).
std::string squash(const std::string& text, bool keep_dots) {
  std::string out;
  bool in_run = false;
  for (const char c : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || (keep_dots && c == '.');
    if (keep) out += c;
    else if (!in_run) out += '_';
    in_run = !keep;
  }
  return out;
}

// The compiled-model cache folder of a bundle, with the Python runtime's key
// (inrgan_export/core/cache.py's user_cache_dir("openvino") and openvino_backend.py's
// cache_dir_for): <root>/<sha256(manifest.json)[:16]>-ov<version before the first "-">-<device>.
std::filesystem::path compiled_model_cache_dir(const std::string& bundle_dir, const std::string& device) {
  namespace fs = std::filesystem;
  fs::path root;
  if (const char* base = std::getenv("INRGAN_EXPORT_CACHE"); base && *base) {
    root = base;
  } else {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg) root = fs::path(xdg) / "inrgan-export";
    else if (home && *home) root = fs::path(home) / ".cache" / "inrgan-export";
    else return {};
  }
  const std::string hash = sha256_file((fs::path(bundle_dir) / "manifest.json").string()).substr(0, 16);
  const std::string version = std::string(ov::get_openvino_version().buildNumber);
  return root / "openvino" / (hash + "-ov" + squash(version.substr(0, version.find('-')), true) + "-" + squash(device, false));
}

class OpenVinoBackend final : public DeviceBackend {
 public:
  OpenVinoBackend(const std::string& device, const Options& options) : device_(upper(device)), options_(options) {}

  std::unique_ptr<GraphRunner> load(const Manifest& manifest, const std::string& graph) override {
    const std::string path = manifest.graph_path(graph, manifest.has_graph_file(graph, "openvino") ? "openvino" : "onnx");
    if (manifest.has_graph_file(graph, "openvino"))  // OpenVINO reads the weights next to the .xml
      require_listed(manifest.listed_files, std::filesystem::path(manifest.graph_files.at(graph).at("openvino")).replace_extension(".bin").generic_string(), "graphs." + graph + ".openvino_weights");
    const ov::element::Type wanted = precision_type(manifest.openvino_inference_precision);
    check_device_runs(manifest.openvino_precision);
    ov::AnyMap config{ov::hint::inference_precision(wanted), ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (options_.threads > 0 && device_ == "CPU") config.emplace(ov::inference_num_threads(options_.threads));
    ov::CompiledModel compiled;
    if (use_cache(manifest)) {
      // from the path, as the Python backend: a cache hit then skips reading the graph too
      try {
        compiled = core_.compile_model(path, device_, config);
      } catch (const ov::Exception&) {  // reported with the precise step below
      }
    }
    if (!compiled) compiled = read_and_compile(path, config);
    return checked(std::move(compiled), manifest, graph, path, wanted);
  }

 private:
  // Sets OpenVINO's CACHE_DIR once per backend; false when caching is off or impossible.
  bool use_cache(const Manifest& manifest) {
    if (!options_.compiled_model_cache) return false;
    if (!cache_checked_) {
      cache_checked_ = true;
      std::error_code ec;
      const auto dir = compiled_model_cache_dir(manifest.dir, device_);
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      if (!dir.empty() && !ec && std::filesystem::is_directory(dir)) {
        try {
          core_.set_property(ov::cache_dir(dir.string()));
          cache_dir_ = dir.string();
        } catch (const ov::Exception&) {
        }
      }
    }
    return !cache_dir_.empty();
  }

  ov::CompiledModel read_and_compile(const std::string& path, const ov::AnyMap& config) {
    std::shared_ptr<ov::Model> model;
    try {
      model = core_.read_model(path);
    } catch (const ov::Exception& e) {
      throw BackendError("OpenVINO cannot read " + path + ": " + short_message(e));
    }
    ov::CompiledModel compiled;
    try {
      compiled = core_.compile_model(model, device_, config);
    } catch (const ov::Exception& e) {
      check_device_present();  // a device this machine lacks is "backend unavailable" (exit 3)
      throw BackendError("OpenVINO cannot compile " + path + " for " + device_ + ": " + short_message(e));
    }
    return compiled;
  }

  std::unique_ptr<GraphRunner> checked(ov::CompiledModel compiled, const Manifest& manifest, const std::string& graph, const std::string& path,
                                       const ov::element::Type& wanted) {
    // read back what the device actually runs: a silent fallback would change the outputs
    ov::element::Type got = wanted;
    try {
      got = compiled.get_property(ov::hint::inference_precision);
    } catch (const ov::Exception&) {  // devices without the property run what they were asked
    }
    if (got != wanted)
      throw BackendUnavailable("OpenVINO on " + device_ + " compiled " + graph + " with inference precision " + got.to_string() +
                               ", not " + wanted.to_string() + "; this device cannot run this " + manifest.openvino_precision + " bundle");
    return std::make_unique<OpenVinoGraph>(std::move(compiled), graph + " (" + path + ")");
  }

  // The bundle's precision needs the device capability (FP32, BF16, FP16, INT8), as the
  // Python backend's check_precision: refused as an unsupported option (exit 2).
  void check_device_runs(const std::string& precision) {
    if (is_virtual(device_)) {
      if (precision != "fp32") throw UnsupportedOption("precision " + precision + " needs an explicit device (CPU, GPU, NPU), not " + device_);
      return;
    }
    std::vector<std::string> capabilities;
    try {
      capabilities = core_.get_property(device_, ov::device::capabilities);
    } catch (const ov::Exception& e) {
      check_device_present();
      throw BackendError("OpenVINO cannot query device " + device_ + ": " + short_message(e));
    }
    const std::pair<const char*, const char*> names[] = {{"fp32", "FP32"}, {"bf16", "BF16"}, {"fp16", "FP16"}, {"int8", "INT8"}};
    std::string supported;
    bool runs = false;
    for (const auto& [ours, capability] : names) {
      if (std::find(capabilities.begin(), capabilities.end(), capability) == capabilities.end()) continue;
      supported += (supported.empty() ? "" : ", ") + std::string(ours);
      runs = runs || precision == ours;
    }
    if (!runs) throw UnsupportedOption("precision " + precision + " is not supported by OpenVINO on " + device_ + " here; supported: " + supported);
  }

  // Asked only after a failure: listing devices loads every plugin, which costs start-up
  // time and leaves their threads around.
  void check_device_present() {
    std::vector<std::string> available;
    try {
      available = core_.get_available_devices();
    } catch (const ov::Exception&) {
    }
    const std::string base = device_.substr(0, device_.find_first_of(".:"));
    const bool present = std::any_of(available.begin(), available.end(), [&](const std::string& d) {
      return d == device_ || d.substr(0, d.find('.')) == base;
    });
    if (present || is_virtual(device_)) return;
    std::string names;
    for (const auto& d : available) names += (names.empty() ? "" : ", ") + d;
    throw BackendUnavailable("OpenVINO has no device '" + device_ + "' here; available: " + (names.empty() ? "none" : names));
  }

  ov::Core core_;
  std::string device_;
  Options options_;
  bool cache_checked_ = false;
  std::string cache_dir_;
};

}  // namespace

std::unique_ptr<DeviceBackend> open_openvino(const std::string& device, const Options& options) {
  try {
    return std::make_unique<OpenVinoBackend>(device, options);
  } catch (const ov::Exception& e) {
    throw BackendUnavailable("OpenVINO cannot start on device '" + device + "': " + short_message(e));
  }
}

}  // namespace inrgan::detail
