// ExecuTorch backend: the bundle's hypernet.pte / inr.pte (target executorch) on ExecuTorch's C++
// runtime through its Module API, the XNNPACK delegate running the lowered parts and the CPU
// kernels the rest. Here it links the prebuilt libraries of the `executorch` Python wheel
// (cmake/FindExecuTorch.cmake); none of them needs libtorch. The same code builds against
// ExecuTorch's Android and iOS libraries (runtimes/cpp/README.md).
//
// A .pte carries no input names: the manifest's graphs.<name>.inputs give their order. The
// programs' dims are bounded at export (the manifest's executorch.bound); the generator splits
// renders beyond the bound into pieces within it (tiling.cpp), so every run here fits.
#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/platform/platform.h>
#include <executorch/runtime/platform/runtime.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "graph_runner.hpp"

namespace inrgan::detail {

namespace {

namespace et = ::executorch;
using et::extension::Module;
using et::runtime::Error;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// ExecuTorch logs through its platform layer to stderr. Its error lines are kept (the last
// one goes into the one-line error this backend throws) and nothing is printed, so a failure
// reads as one line, as with the other backends.
thread_local std::string last_log_error;

void keep_log(et_timestamp_t, et_pal_log_level_t level, const char*, const char*, std::size_t, const char* message,
              std::size_t length) {
  if (level == kError || level == kFatal) last_log_error.assign(message, length);
}

// The program being run, for the one line below (set around each execute).
thread_local const char* running_label = nullptr;

// A verified program can still trip a kernel's own argument check (seen: 1 of 200 seeded byte
// flips of inr.pte, in libexecutorch_kernels_optimized during Method::execute), and ExecuTorch
// then aborts the process through its platform layer; no exception can cross its frames. The
// process ends either way: with one line naming the program and exit 2 (a damaged bundle, as
// every other bad program), not SIGABRT.
[[noreturn]] void damaged_program_abort() {
#if defined(__GLIBC__) || defined(__BIONIC__)
  const char* program = program_invocation_short_name;
#else
  const char* program = "inrgan";
#endif
  std::string line = std::string(program) + ": error: ExecuTorch stopped " +
                     (running_label ? std::string("running ") + running_label : std::string("on a program")) +
                     (last_log_error.empty() ? std::string() : ": " + last_log_error) +
                     " (a damaged program; re-export the bundle)\n";
  std::replace(line.begin(), line.end() - 1, '\n', ' ');
  std::fflush(stdout);
  [[maybe_unused]] const auto written = ::write(2, line.data(), line.size());
  std::_Exit(2);
}

void quiet_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    et::runtime::register_pal(et::runtime::PalImpl::create(nullptr, damaged_program_abort, nullptr, nullptr, keep_log, nullptr, nullptr,
                                                            __FILE__));
  });
}

std::string failure(Error error) {
  std::string text = std::string(et::runtime::to_string(error)) + " (error " + std::to_string(static_cast<int>(error)) + ")";
  if (!last_log_error.empty()) {
    std::string detail = last_log_error;
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    text += ": " + detail;
    last_log_error.clear();
  }
  return text;
}

class ExecuTorchGraph final : public GraphRunner {
 public:
  ExecuTorchGraph(std::unique_ptr<Module> module, std::vector<std::string> inputs, std::string label)
      : module_(std::move(module)), inputs_(std::move(inputs)), label_(std::move(label)) {}

  std::vector<std::string> input_names() const override { return inputs_; }

  void run(const std::vector<TensorView>& inputs, const std::vector<std::int64_t>& output_shape, float* output) override {
    // the program's positional inputs, in the manifest's order
    std::vector<et::extension::TensorPtr> tensors;
    std::vector<et::runtime::EValue> values;
    tensors.reserve(inputs_.size());
    values.reserve(inputs_.size());
    for (const auto& name : inputs_) {
      const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const TensorView& v) { return v.name == name; });
      if (it == inputs.end()) throw BackendError(label_ + " needs input '" + name + "', which was not given");
      std::vector<et::aten::SizesType> sizes(it->shape.begin(), it->shape.end());
      // wraps the caller's memory: ExecuTorch copies inputs into its planned buffers
      tensors.push_back(et::extension::from_blob(const_cast<void*>(it->data), std::move(sizes),
                                                 it->dtype == DType::Float32 ? et::aten::ScalarType::Float : et::aten::ScalarType::Int));
      values.emplace_back(*tensors.back());
    }
    last_log_error.clear();
    running_label = label_.c_str();
    const auto result = module_->execute("forward", values);
    running_label = nullptr;
    // the inputs are within the bound the manifest declares (tiling.cpp): a verified program
    // that still fails on them is a damaged one
    if (!result.ok()) throw BundleError("ExecuTorch failed running " + label_ + ": " + failure(result.error()) + " (a damaged program?)");
    const auto& outs = *result;
    if (outs.size() != 1 || !outs[0].isTensor())
      throw BackendError(label_ + " returned " + std::to_string(outs.size()) + " values; expected one float32 tensor");
    const auto& tensor = outs[0].toTensor();
    const std::vector<std::int64_t> got(tensor.sizes().begin(), tensor.sizes().end());
    if (got != output_shape || tensor.scalar_type() != et::aten::ScalarType::Float)
      throw BackendError(label_ + " returned " + shape_text(got) + " (scalar type " + std::to_string(static_cast<int>(tensor.scalar_type())) +
                         "); expected float32" + shape_text(output_shape));
    std::memcpy(output, tensor.const_data_ptr<float>(), static_cast<std::size_t>(tensor.numel()) * sizeof(float));
  }

 private:
  std::unique_ptr<Module> module_;
  std::vector<std::string> inputs_;
  std::string label_;
};

class ExecuTorchBackend final : public DeviceBackend {
 public:
  std::unique_ptr<GraphRunner> load(const Manifest& manifest, const std::string& graph) override {
    if (!manifest.executorch_batch)
      throw UnsupportedOption("bundle " + manifest.dir + " has no ExecuTorch programs (export it with --target executorch)");
    const std::string path = manifest.graph_path(graph, "pte");
    const auto names = manifest.graph_inputs.find(graph);
    if (names == manifest.graph_inputs.end() || names->second.empty())
      throw BundleError("bundle " + manifest.dir + ": field 'graphs." + graph + ".inputs' is missing; a .pte program needs its input order");
    const std::string label = graph + " (" + path + ")";
    // mmap: the constant weights stay in the file's pages
    auto module = std::make_unique<Module>(path, Module::LoadMode::Mmap);
    last_log_error.clear();
    // A program is untrusted input (the bundle's checksum says only that it was not changed
    // since the manifest was written): InternalConsistency verifies the whole flatbuffer before
    // any table is read. With the default (Minimal, header only) a program with flipped bytes
    // and a matching checksum crashed in Method::parse_values during load_method.
    if (const Error e = module->load(et::extension::Program::Verification::InternalConsistency); e != Error::Ok)
      throw BundleError("ExecuTorch cannot load " + path + ": " + failure(e) + " (not a valid program; re-export the bundle)");
    const auto meta = module->method_meta("forward");
    if (!meta.ok()) throw BundleError("ExecuTorch cannot load " + path + ": no method 'forward' (" + failure(meta.error()) + ")");
    // every delegate the program uses must be registered in this process (an unregistered
    // one would fail below with a less telling message)
    for (std::size_t i = 0; i < meta->num_backends(); ++i) {
      const auto backend = meta->get_backend_name(i);
      if (backend.ok() && et::runtime::get_backend_class(*backend) == nullptr)
        throw BackendUnavailable("ExecuTorch program " + path + " uses delegate " + *backend +
                                 ", which this build does not contain (registered: XnnpackBackend)");
    }
    if (meta->num_inputs() != names->second.size())
      throw BundleError("program " + path + " takes " + std::to_string(meta->num_inputs()) + " inputs but field 'graphs." + graph +
                        ".inputs' names " + std::to_string(names->second.size()));
    // a verified program whose method still fails to load is a bad program (its memory plan
    // included: ExecuTorch reports a tensor outside its planned buffers as MemoryAllocationFailed)
    if (const Error e = module->load_method("forward"); e != Error::Ok)
      throw BundleError("ExecuTorch cannot load method 'forward' of " + path + ": " + failure(e));
    return std::make_unique<ExecuTorchGraph>(std::move(module), names->second, label);
  }
};

}  // namespace

std::unique_ptr<DeviceBackend> open_executorch(const std::string& device, const Options& options) {
  std::string upper = device;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper != "CPU") throw BackendUnavailable("ExecuTorch here runs on device CPU only, not '" + device + "'; available: CPU");
  // options.threads is not applied: XNNPACK runs on ExecuTorch's shared thread pool, sized to
  // the CPU's cores, and the wheel ships no header to resize it
  (void)options;
  quiet_logging();
  et::runtime::runtime_init();
  if (et::runtime::get_backend_class("XnnpackBackend") == nullptr)
    throw BackendUnavailable("ExecuTorch's XNNPACK delegate is not registered in this process (libexecutorch_backend_xnnpack not loaded)");
  return std::make_unique<ExecuTorchBackend>();
}

}  // namespace inrgan::detail
