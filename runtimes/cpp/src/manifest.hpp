// manifest.json: the contract every runtime reads (schema "inrgan-export/bundle", version 1
// or "1.N";
// documented in the repository README). Reading checks it and turns every problem into a
// BundleError naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "grid.hpp"
#include "inrgan/inrgan.hpp"

namespace inrgan::detail {

constexpr const char* kManifestFile = "manifest.json";
constexpr const char* kSchema = "inrgan-export/bundle";
constexpr int kManifestVersion = 1;  // the major version read: 1 or "1.N"

// An extra hypernetwork input after the latent: one float32 per sample, fed `neutral` unless
// the caller gives a value (sg2's truncation_psi: 1.0 = no truncation).
struct HypernetInput {
  std::string name;
  float neutral = 1.0f;
};

// The gate verdicts a manifest records (int8.gates, parity), as read for failed_gate.
struct GateVerdicts {
  bool int8_failed = false;  // int8.gates.passed is false
  std::string int8_why;      // int8.gates.failed_by joined with "; ", else its reason, else a pointer to the field
  // parity.paths in file order: path name ("openvino split") -> backend, for verdicts that are false
  std::vector<std::pair<std::string, std::string>> failed_paths;
  bool has_paths = false;     // parity.paths is a non-empty object (per-path verdicts recorded)
  bool parity_failed = false; // parity.passed is false (the overall verdict of older bundles)
  std::vector<std::string> parity_failures;  // parity.failures
  std::vector<ParityGate> rules;  // parity.gates: the rule each path was judged by (checked on reading)
};

struct Manifest {
  std::string dir;
  std::string family;
  int z_dim = 0;
  int theta_dim = 0;
  Size native_size;
  std::string z_name;                     // interface.hypernet_inputs[0]
  std::vector<HypernetInput> extra_inputs;  // interface.hypernet_inputs[1:]
  std::string theta_name;
  std::string output_name;
  GridLayout layout;
  std::vector<std::int64_t> bytes_per_pixel;  // per block
  DisplayMapping display;
  std::optional<std::pair<Size, Size>> size_range;  // inclusive; backends with fixed profiles
  // graph name ("hypernet", "inr", ...) -> file kind ("onnx", "openvino", ...) -> relative path
  std::map<std::string, std::map<std::string, std::string>> graph_files;
  std::set<std::string> listed_files;  // the keys of "files": graph files must be among them
  // the manifest's "openvino" section (written by the openvino target); defaults without one
  std::string openvino_precision = "fp32";           // bundle precision: fp32, bf16, fp16, int8
  std::string openvino_inference_precision = "f32";  // the hint it runs with: f32, bf16, f16
  std::string openvino_device;                       // the device it was built for; empty: none
  // graph name -> its input names in order (graphs.<name>.inputs): a .pte's inputs are positional
  std::map<std::string, std::vector<std::string>> graph_inputs;
  // the manifest's "executorch" section (target executorch): the programs' dims are bounded
  // at export, so one run takes at most `executorch_batch` samples and block b at most
  // executorch_blocks[b] (h, w); absent for bundles of other targets
  std::optional<int> executorch_batch;
  std::vector<Size> executorch_blocks;
  GateVerdicts gates;

  // Path of a graph file of one kind; BundleError if the bundle has none.
  std::string graph_path(const std::string& graph, const std::string& kind) const;
  bool has_graph_file(const std::string& graph, const std::string& kind) const;
};

// The grid layout of a manifest's interface.grid object given as JSON text (for tools/tests).
GridLayout grid_layout_from_json(const std::string& grid_json);

// Why the bundle's recorded gates say `backend` (as the manifest names backends: "onnxruntime",
// "openvino", "tensorrt") must not be trusted, or "" when they do not: a failed INT8 gate
// condemns every backend (they all run the one Q/DQ graph); a failed parity path condemns its
// backend; bundles without per-path verdicts fall back to the overall parity verdict. The rule
// and wording of the Python runtime's failed_gate (inrgan_export/backends/base.py).
std::string failed_gate(const GateVerdicts& gates, const std::string& backend);
// The same for a manifest given as JSON text (for tools/tests).
std::string failed_gate_from_json(const std::string& manifest_json, const std::string& backend);

// The parity gates a manifest given as JSON text records (for tools/tests); a gate whose rule
// this runtime does not know, or whose numbers do not fit its rule, is a BundleError naming the field.
std::vector<ParityGate> parity_gates_from_json(const std::string& manifest_json);

// Reads and checks `dir`/manifest.json and the files it lists (SHA-256 when asked).
Manifest read_manifest(const std::string& dir, bool verify_checksums);

}  // namespace inrgan::detail
