// inrgan: render exported INR-GAN bundles from C++.
//
// This header is the whole public API:
//
//   auto g = inrgan::Generator::open("church_ov/", inrgan::Backend::OpenVINO, "CPU");
//   auto theta = g.hypernet(z);             // z: z_dim x batch floats, once per latent
//   auto img = g.render(theta, {128, 192}, inrgan::Window{0.2f, 0.2f, 0.8f, 0.8f});
//
// It mirrors the Python runtime (inrgan_export/backends/base.py): the bundle's manifest.json
// is the contract, the per-grid inputs are rebuilt from it exactly as inrgan_export/core/grid.py
// does, and every error is a typed inrgan::Error whose message names the field or value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace inrgan {

// ------------------------------------------------------------------------------ errors
// One base class; exit_code() is the command-line contract shared with the Python CLI:
// 2 bad input or usage, 3 requested backend not available here, 4 the bundle's recorded gate
// failed for the backend, 1 anything else.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// Bad command-line usage or option value (size text, window, seed list, backend name).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& m) : Error(m, 2) {}
};

// A bundle with missing files, a checksum mismatch, or a manifest this version cannot read.
class BundleError : public Error {
 public:
  explicit BundleError(const std::string& m) : Error(m, 2) {}
};

// An input of the wrong shape or size (latent width, theta length, render size).
class ShapeError : public Error {
 public:
  explicit ShapeError(const std::string& m) : Error(m, 2) {}
};

// An input with invalid values (NaN/Inf latents, a latent file of the wrong dtype).
class InputValueError : public Error {
 public:
  explicit InputValueError(const std::string& m) : Error(m, 2) {}
};

// A bundle precision or option that this device cannot run (e.g. a bf16 bundle on a CPU
// without bf16), as the Python side's UnsupportedOption.
class UnsupportedOption : public Error {
 public:
  explicit UnsupportedOption(const std::string& m) : Error(m, 2) {}
};

// An output path that cannot be written.
class OutputError : public Error {
 public:
  explicit OutputError(const std::string& m) : Error(m, 2) {}
};

// The requested backend or device is not built into this library or not usable here.
class BackendUnavailable : public Error {
 public:
  explicit BackendUnavailable(const std::string& m) : Error(m, 3) {}
};

// A backend failed while loading or running a graph.
class BackendError : public Error {
 public:
  explicit BackendError(const std::string& m) : Error(m, 1) {}
};

// The bundle's recorded verdicts condemn the backend: its INT8 gate failed (every backend), or
// the parity gate failed for one of the backend's paths (else, in bundles without per-path
// verdicts, the overall parity gate). Its images are known to be wrong; open refuses it unless
// Options::allow_failed_parity (Generator::open throws it). As the Python runtime's ParityError.
class ParityError : public Error {
 public:
  explicit ParityError(const std::string& m) : Error(m, 4) {}
};

// ------------------------------------------------------------------------------ types
enum class Backend { OpenVINO, TensorRT, OnnxRuntime, ExecuTorch };

std::string to_string(Backend backend);
// "openvino" / "tensorrt" / "onnxruntime" / "executorch" (case-insensitive); anything else is a UsageError listing them.
Backend parse_backend(const std::string& name);
// Whether this build of the library contains the backend (TensorRT, ONNX Runtime and ExecuTorch are optional).
bool is_built(Backend backend);

// Output size in pixels, height first (as the Python API's (H, W)).
struct Size {
  int height = 0;
  int width = 0;
};

// Render window in native-image units: (x0, y0) top-left, (x1, y1) bottom-right; values
// outside [0, 1] extrapolate.
struct Window {
  float x0 = 0.0f;
  float y0 = 0.0f;
  float x1 = 1.0f;
  float y1 = 1.0f;
};

// Raw generator output, float32 [batch, 3, height, width], C order, values in about [-1, 1].
struct Images {
  int batch = 0;
  int height = 0;
  int width = 0;
  std::vector<float> data;
};

// How raw outputs become 8-bit pixels (the manifest's interface.display):
// uint8(rint(clip(x, clamp_lo, clamp_hi) * scale + offset)), round half to even.
struct DisplayMapping {
  double clamp_lo = -1.0;
  double clamp_hi = 1.0;
  double scale = 127.5;
  double offset = 127.5;
};

// Extra hypernetwork inputs after the latent, by name (e.g. {{"truncation_psi", {0.7f}}}):
// one value for every sample, or one per sample. Inputs not given get their neutral value.
using HypernetInputs = std::map<std::string, std::vector<float>>;

// An extra hypernetwork input the bundle's manifest declares (interface.hypernet_inputs[1:])
// and the value fed when the caller gives none (sg2's truncation_psi: 1.0 = no truncation).
struct HypernetInputInfo {
  std::string name;
  float neutral = 1.0f;
};

// A parity gate that the bundle's export recorded for one checked path (manifest
// parity.gates). Rules: "max_abs_scaled" (FP32: every value finite and, per image,
// max |out - ref| <= atol * max(1, max |ref|): float32 error grows with the output's range, and
// a trained generator's range is its own), "max_abs" (bundles written before it:
// max |out - ref| <= atol) and "min_psnr" (reduced precision and INT8: the worst image's PSNR on
// the display-mapped picture >= min_psnr_db). The runtime honours the recorded verdicts; it
// recomputes nothing.
struct ParityGate {
  std::string path;          // the checked path, e.g. "openvino split"
  std::string precision;     // "fp32", "bf16", "fp16", "int8"
  std::string rule;          // "max_abs_scaled", "max_abs" or "min_psnr"
  double atol = 0.0;         // the max_abs rules' tolerance
  double min_psnr_db = 0.0;  // the min_psnr rule's threshold
  std::string description;   // the rule with its numbers, e.g. "max abs <= 0.0001 * max(1, max|ref|)"
};

struct Options {
  int threads = 0;               // CPU threads for the backend; 0 = the backend's default
  bool verify_checksums = true;  // SHA-256 of every file listed in the manifest
  // Activation budget of one INR run in bytes; larger renders are split into batch chunks
  // and tiles. 0 = 40 % of physical memory, at most 4 GiB (as the Python runtime).
  std::size_t max_memory = 0;
  // OpenVINO compiled-model cache (CACHE_DIR), shared with the Python runtime: the same
  // folder, $INRGAN_EXPORT_CACHE/openvino/<sha256(manifest.json)[:16]>-ov<version>-<DEVICE>
  // (else $XDG_CACHE_HOME/inrgan-export/..., else ~/.cache/inrgan-export/...), so the second
  // open of a bundle skips compilation. Off: every open compiles. An unwritable cache
  // folder turns caching off rather than failing the open.
  bool compiled_model_cache = true;
  // Open a bundle even when its recorded gate failed for this backend (see ParityError), e.g.
  // to inspect what it renders; off: such a bundle is refused with a ParityError.
  bool allow_failed_parity = false;
};

// ------------------------------------------------------------------------------ generator
// A bundle opened with one backend.
//
// Thread safety: a Generator is not thread-safe (it holds the backend's inference requests
// and a cache of grid inputs); call it from one thread at a time, or open one Generator per
// thread — distinct Generators (each with its own OpenVINO Core) share no mutable state of
// this library and may run concurrently. The free functions below are thread-safe.
class Generator {
 public:
  // Reads and checks manifest.json (schema, version, size rule, coordinates, files, SHA-256)
  // and loads the hypernet and INR graphs on the backend's device. An empty device means
  // the bundle's (manifest openvino.device, else CPU; cuda:0 for TensorRT).
  static Generator open(const std::string& bundle_dir, Backend backend = Backend::OpenVINO,
                        const std::string& device = "", const Options& options = {});

  Generator(Generator&&) noexcept;
  Generator& operator=(Generator&&) noexcept;
  ~Generator();

  int z_dim() const;
  int theta_dim() const;
  Size native_size() const;
  DisplayMapping display() const;
  Backend backend() const;
  const std::string& device() const;

  // The hypernetwork's inputs after the latent, with their neutral values (empty for a
  // generator that takes only z).
  std::vector<HypernetInputInfo> extra_hypernet_inputs() const;

  // The parity gates the bundle's export recorded (manifest parity.gates), in file order;
  // empty for a bundle that records none.
  const std::vector<ParityGate>& parity_gates() const;

  // Latents [batch, z_dim] (flat, batch = z.size() / z_dim) -> theta [batch, theta_dim].
  // `extra` sets extra hypernetwork inputs by name; an unknown name is a UsageError listing
  // the valid ones.
  std::vector<float> hypernet(const std::vector<float>& z, const HypernetInputs& extra = {});

  // theta [batch, theta_dim] -> images [batch, 3, H, W] for `size` over `window`.
  // Any size from 1 to 65536 per side; large renders are tiled to stay within max_memory.
  Images render(const std::vector<float>& theta, Size size, Window window = {});

  // The same render written into a caller-provided buffer: `theta` holds theta_count floats
  // ([batch, theta_dim]); `out` receives batch * 3 * H * W floats (C order) and must hold at
  // least out_capacity >= output_values(batch, size) of them, else ShapeError and nothing
  // is written. The buffer is only written during the call and not kept afterwards; on an
  // error its contents are unspecified. Returns the batch.
  int render(const float* theta, std::size_t theta_count, Size size, Window window, float* out, std::size_t out_capacity);

  // Floats in a render of `batch` images at `size`: batch * 3 * height * width.
  static std::size_t output_values(int batch, Size size);

  // render(hypernet(z, extra), size, window)
  Images generate(const std::vector<float>& z, Size size, Window window = {}, const HypernetInputs& extra = {});

  // theta-space interpolation (`render --interpolate A,B --steps N`): `steps` frames
  // [steps, 3, H, W] from latent z_a to z_b (each [1, z_dim]), frame k rendered from
  // lerp_theta(hypernet(z_a), hypernet(z_b), k / (steps - 1)); frames 0 and steps - 1 are the
  // renders of z_a and z_b. steps in 1..4096; equal latents are an InputValueError.
  Images interpolate(const std::vector<float>& z_a, const std::vector<float>& z_b, int steps, Size size, Window window = {},
                     const HypernetInputs& extra = {});

  // Pieces (batch chunks x tiles) the last render was split into; 1 when it ran whole.
  int last_render_pieces() const;

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------------------------ latents
// `--seed s`: numpy.random.RandomState(s).randn(1, z_dim) cast to float32, bit for bit.
std::vector<float> latent_from_seed(std::uint32_t seed, int z_dim);

// `--latent Z.npy`: a plain .npy of floats [N, z_dim] (or one [z_dim] vector), returned as
// float32 [N, z_dim] flat; `rows` receives N. Never executes anything from the file.
std::vector<float> read_latents_npy(const std::string& path, int z_dim, int* rows = nullptr);

// ------------------------------------------------------------------------------ interpolation
// theta blended as the Python runtime does (inrgan_export/app/interpolation.py, lerp):
// a + t * (b - a) in double, rounded to float32; t = 1 gives b exactly. ShapeError when the
// sizes differ, InputValueError for a non-finite t.
std::vector<float> lerp_theta(const std::vector<float>& a, const std::vector<float>& b, double t);

// ------------------------------------------------------------------------------ outputs
// Raw float32 [N, 3, H, W] .npy; written to a temporary sibling and renamed when complete.
void write_npy(const std::string& path, const Images& images);

// Image `index` of `images` as an 8-bit RGB PNG through `display`; atomic as write_npy.
void write_png(const std::string& path, const Images& images, int index, const DisplayMapping& display);

}  // namespace inrgan
