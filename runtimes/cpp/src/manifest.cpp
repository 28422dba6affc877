#include "manifest.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bundle_paths.hpp"
#include "checksum.hpp"

namespace inrgan::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::set<std::string> kKnownSizeRules = {"halving", "paper-exp"};
// hard limits on the numbers that size work: the Python reader's manifest.LIMITS and
// executorch_backend.MAX_BOUND_* (far above any real generator)
constexpr long long kMaxBlocks = 16, kMaxBlockSide = 1 << 15, kMaxZDim = 1 << 16, kMaxThetaDim = 1 << 28;
constexpr long long kMaxBytesPerPixel = 1 << 30, kMaxBoundBatch = 4096;
const std::set<std::string> kKnownCoordKinds = {"y-up"};
const std::set<std::string> kInferencePrecisions = {"f32", "bf16", "f16"};
// bundle precision -> OpenVINO inference precision hint (int8 bundles carry FakeQuantize; the
// rest runs f32), as inrgan_export/backends/openvino_backend.py's PRECISION_HINTS
const std::map<std::string, std::string> kOpenVinoHints = {{"fp32", "f32"}, {"bf16", "bf16"}, {"fp16", "f16"}, {"int8", "f32"}};

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Field access by dotted path, with BundleErrors that name the field.
class Fields {
 public:
  Fields(const json& root, std::string manifest_path) : root_(root), where_(std::move(manifest_path)) {}

  const json& at(const std::string& path) const {
    const json* node = &root_;
    std::istringstream parts(path);
    for (std::string key; std::getline(parts, key, '.');) {
      if (!node->is_object() || !node->contains(key)) fail(path, "is missing");
      node = &(*node)[key];
    }
    return *node;
  }
  bool has(const std::string& path) const {
    const json* node = &root_;
    std::istringstream parts(path);
    for (std::string key; std::getline(parts, key, '.');) {
      if (!node->is_object() || !node->contains(key)) return false;
      node = &(*node)[key];
    }
    return !node->is_null();
  }
  std::string str(const std::string& path) const {
    const json& v = at(path);
    if (!v.is_string()) fail(path, "must be a string (found " + v.dump() + ")");
    return v.get<std::string>();
  }
  int integer(const std::string& path, int min_value, long long max_value = INT32_MAX) const {
    return integer_of(at(path), path, min_value, max_value);
  }
  // max_value: the hard limits of numbers that size work (as the Python reader's
  // manifest.LIMITS): a larger one is a damaged or hostile manifest, refused before anything
  // is allocated from it
  int integer_of(const json& v, const std::string& path, int min_value, long long max_value = INT32_MAX) const {
    if (!v.is_number_integer() || v.get<long long>() < min_value || v.get<long long>() > max_value)
      fail(path, max_value == INT32_MAX ? "must be an integer >= " + std::to_string(min_value) + " (found " + v.dump() + ")"
                                        : "must be an integer from " + std::to_string(min_value) + " to " + std::to_string(max_value) +
                                              " (found " + v.dump() + ")");
    return v.get<int>();
  }
  double number_of(const json& v, const std::string& path) const {
    if (!v.is_number()) fail(path, "must be a number (found " + v.dump() + ")");
    return v.get<double>();
  }
  const json& array(const std::string& path, std::size_t size = 0) const {
    const json& v = at(path);
    if (!v.is_array() || (size && v.size() != size))
      fail(path, size ? "must be a list of " + std::to_string(size) + " values (found " + v.dump() + ")"
                      : "must be a list (found " + v.dump() + ")");
    return v;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw BundleError(where_ + ": field '" + path + "' " + what);
  }

 private:
  const json& root_;
  std::string where_;
};

// A parse callback that records the keys of parity.paths in file order: json objects sort their
// keys, and the Python runtime names failed paths in the manifest's order.
json::parser_callback_t parity_path_order(std::vector<std::string>* order) {
  auto keys = std::make_shared<std::vector<std::string>>();  // the key path to the current value
  return [keys, order](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth >= 1 && parsed.is_string()) {
      keys->resize(static_cast<std::size_t>(depth - 1));
      keys->push_back(parsed.get<std::string>());
      if (depth == 3 && (*keys)[0] == "parity" && (*keys)[1] == "paths") order->push_back(keys->back());
    }
    return true;
  };
}

json parse_file(const fs::path& path, std::vector<std::string>* parity_paths) {
  std::ifstream in(path);
  if (!in) throw BundleError("cannot read " + path.string());
  try {
    return json::parse(in, parity_path_order(parity_paths));
  } catch (const json::exception& e) {
    throw BundleError(path.string() + " is not valid JSON: " + e.what());
  }
}

// int8.gates and parity, read as leniently as the Python runtime reads them: only a verdict
// that is exactly false condemns, and a section of another shape records no verdict.
GateVerdicts read_gates(const json& root, const std::vector<std::string>& parity_path_order) {
  GateVerdicts g;
  const auto member = [](const json* parent, const char* key) -> const json* {
    if (parent == nullptr || !parent->is_object()) return nullptr;
    const auto it = parent->find(key);
    return it == parent->end() ? nullptr : &*it;
  };
  const auto is_false = [](const json* v) { return v != nullptr && v->is_boolean() && !v->get<bool>(); };
  const auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };

  const json* int8 = member(member(&root, "int8"), "gates");
  if (is_false(member(int8, "passed"))) {
    g.int8_failed = true;
    const json* failed_by = member(int8, "failed_by");
    if (failed_by != nullptr && failed_by->is_array())
      for (std::size_t i = 0; i < failed_by->size(); ++i) g.int8_why += (i ? "; " : "") + text((*failed_by)[i]);
    const json* reason = member(int8, "reason");
    if (g.int8_why.empty() && reason != nullptr && reason->is_string()) g.int8_why = reason->get<std::string>();
    if (g.int8_why.empty()) g.int8_why = "see manifest field int8.gates";
  }

  const json* parity = member(&root, "parity");
  const json* failures = member(parity, "failures");
  if (failures != nullptr && failures->is_array())
    for (const auto& f : *failures) g.parity_failures.push_back(text(f));
  g.parity_failed = is_false(member(parity, "passed"));
  const json* paths = member(parity, "paths");
  g.has_paths = paths != nullptr && paths->is_object() && !paths->empty();
  if (g.has_paths) {
    std::vector<std::string> names;  // file order; any key the callback missed after them
    for (const auto& name : parity_path_order)
      if (paths->contains(name) && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    for (const auto& item : paths->items())
      if (std::find(names.begin(), names.end(), item.key()) == names.end()) names.push_back(item.key());
    for (const auto& name : names) {
      const json& verdict = (*paths)[name];
      const json* backend = member(&verdict, "backend");
      if (backend != nullptr && backend->is_string() && is_false(member(&verdict, "passed")))
        g.failed_paths.emplace_back(name, backend->get<std::string>());
    }
  }
  return g;
}

// parity.gates: the rule each checked path was judged by. Gates without a rule were written
// before the scaled FP32 rule and hold their absolute bound under max_abs (or a PSNR threshold).
// A rule is checked: one this runtime does not know, or numbers that do not fit it, would make
// the recorded verdicts mean something else than what it reports.
std::vector<ParityGate> read_parity_gates(const json& root, const std::vector<std::string>& order, const std::string& where) {
  std::vector<ParityGate> out;
  if (!root.is_object() || !root.contains("parity") || !root["parity"].is_object()) return out;
  const json& parity = root["parity"];
  if (!parity.contains("gates") || !parity["gates"].is_object()) return out;
  const json& gates = parity["gates"];
  std::vector<std::string> names;  // parity.paths' file order; then any other key
  for (const auto& name : order)
    if (gates.contains(name) && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  for (const auto& item : gates.items())
    if (std::find(names.begin(), names.end(), item.key()) == names.end()) names.push_back(item.key());
  const auto number = [](const json& g, const char* key) -> std::optional<double> {
    if (!g.contains(key) || !g[key].is_number()) return std::nullopt;
    const double v = g[key].get<double>();
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  };
  for (const auto& name : names) {
    const json& g = gates[name];
    if (!g.is_object()) continue;  // another shape records no rule (as the verdicts are read)
    const std::string field = "parity.gates['" + name + "']";
    const auto fail = [&](const std::string& what) { throw BundleError(where + ": field '" + field + "' " + what); };
    ParityGate gate;
    gate.path = name;
    gate.precision = g.contains("precision") && g["precision"].is_string() ? g["precision"].get<std::string>() : "";
    if (g.contains("rule")) {
      if (!g["rule"].is_string()) fail("rule must be a string (found " + g["rule"].dump() + ")");
      gate.rule = g["rule"].get<std::string>();
      if (gate.rule != "max_abs_scaled" && gate.rule != "max_abs" && gate.rule != "min_psnr")
        fail("rule is '" + gate.rule + "'; this runtime knows max_abs_scaled, max_abs, min_psnr");
      if (gate.rule != "min_psnr") {
        const auto atol = number(g, "atol");
        if (!atol || *atol <= 0) fail("atol must be a positive number for rule " + gate.rule + " (found " + (g.contains("atol") ? g["atol"].dump() : std::string("none")) + ")");
        gate.atol = *atol;
      } else {
        const auto db = number(g, "min_psnr_db");
        if (!db) fail("min_psnr_db must be a number for rule min_psnr (found " + (g.contains("min_psnr_db") ? g["min_psnr_db"].dump() : std::string("none")) + ")");
        gate.min_psnr_db = *db;
      }
    } else if (const auto atol = number(g, "max_abs")) {  // written before the rule was recorded
      gate.rule = "max_abs";
      gate.atol = *atol;
    } else if (const auto db = number(g, "min_psnr_db")) {
      gate.rule = "min_psnr";
      gate.min_psnr_db = *db;
    } else {
      continue;
    }
    std::ostringstream d;
    if (gate.rule == "min_psnr")
      d << "PSNR >= " << gate.min_psnr_db << " dB";
    else
      d << "max abs <= " << gate.atol << (gate.rule == "max_abs_scaled" ? " * max(1, max|ref|)" : "");
    gate.description = d.str();
    out.push_back(std::move(gate));
  }
  return out;
}

GridLayout read_layout(const Fields& f) {
  GridLayout layout;
  const std::string rule = "interface.grid.size_rule";
  const std::string kind = f.str(rule + ".kind");
  if (!kKnownSizeRules.count(kind))
    f.fail(rule + ".kind", "is '" + kind + "'; this runtime knows: " + joined(kKnownSizeRules));
  const int num_blocks = f.integer(rule + ".num_blocks", 1, kMaxBlocks);
  const int native = f.integer(rule + ".native", 1, kMaxBlockSide);  // both rules record it; "halving" needs no more
  if (kind == "paper-exp") {
    const int upsample = f.integer(rule + ".upsample_block_idx", 0);
    layout.size_rule = std::make_shared<PaperExpSizeRule>(native, num_blocks, upsample);
  } else {
    layout.size_rule = std::make_shared<HalvingSizeRule>(num_blocks);
  }

  const std::string coords = "interface.grid.coordinates";
  // no "kind" is the base convention (offset + scale * u); "y-up" flips y (grid.py's
  // YUpCoordConvention); any other kind samples differently and is refused
  if (f.has(coords + ".kind")) {
    const json& coord_kind = f.at(coords + ".kind");
    if (!coord_kind.is_string() || !kKnownCoordKinds.count(coord_kind.get<std::string>()))
      f.fail(coords + ".kind", "is " + coord_kind.dump() + "; this runtime knows: " + joined(kKnownCoordKinds) + " (or no kind: offset + scale * u)");
    layout.coords.y_up = true;
  }
  for (int axis = 0; axis < 2; ++axis) {
    const auto& offset = f.array(coords + ".offset", 2);
    const auto& scale = f.array(coords + ".scale", 2);
    // float64 in the manifest, float32 in the arithmetic (grid.py's F32(offset))
    layout.coords.offset[axis] = static_cast<float>(f.number_of(offset[static_cast<std::size_t>(axis)], coords + ".offset"));
    layout.coords.scale[axis] = static_cast<float>(f.number_of(scale[static_cast<std::size_t>(axis)], coords + ".scale"));
  }

  const std::string resample = "interface.grid.resample";
  const std::string mode = f.str(resample + ".mode");
  if (mode == "nearest") layout.resample_mode = ResampleMode::Nearest;
  else if (mode == "bilinear") layout.resample_mode = ResampleMode::Bilinear;
  else f.fail(resample + ".mode", "is '" + mode + "'; this runtime knows: bilinear, nearest");
  const json& align = f.at(resample + ".align_corners");
  if (!align.is_boolean()) f.fail(resample + ".align_corners", "must be true or false");
  layout.align_corners = align.get<bool>();
  for (const auto& edge : f.array(resample + ".edges")) {
    if (!edge.is_array() || edge.size() != 2) f.fail(resample + ".edges", "must hold [source, destination] block pairs");
    const int s = f.integer_of(edge[0], resample + ".edges", 0), d = f.integer_of(edge[1], resample + ".edges", 0);
    if (s >= num_blocks || d >= num_blocks || s >= d)
      f.fail(resample + ".edges", "has edge [" + std::to_string(s) + ", " + std::to_string(d) + "]; blocks are 0.." +
                                      std::to_string(num_blocks - 1) + " and edges go to a later block");
    layout.edges.emplace_back(s, d);
  }

  // the graph's grid inputs must be exactly the ones this runtime computes
  std::vector<std::string> listed, computed;
  for (const auto& in : f.array("interface.grid.inputs")) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string()) f.fail("interface.grid.inputs", "must hold {name, ...} objects");
    listed.push_back(in["name"].get<std::string>());
  }
  for (const auto& spec : layout.input_specs()) computed.push_back(spec.name);
  if (listed != computed) {
    std::string a, b;
    for (const auto& n : listed) a += (a.empty() ? "" : ",") + n;
    for (const auto& n : computed) b += (b.empty() ? "" : ",") + n;
    f.fail("interface.grid.inputs", "lists " + a + " but its size rule and resample edges give " + b);
  }
  return layout;
}

// manifest_version: the integer 1 (legacy) or a string "1.N"; a reader of major version 1
// reads every 1.N (minor versions only add fields) and refuses any other major.
void check_manifest_version(const Fields& f, const json& root) {
  if (!root.contains("manifest_version")) f.fail("manifest_version", "is missing; this runtime reads major version 1 (1 or \"1.N\")");
  const json& v = root["manifest_version"];
  bool ok = v.is_number_integer() && v.get<long long>() == kManifestVersion;
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    const auto dot = text.find('.');
    const auto digits = [](const std::string& t) { return !t.empty() && t.size() <= 9 && t.find_first_not_of("0123456789") == std::string::npos; };
    ok = dot != std::string::npos && text.substr(0, dot) == std::to_string(kManifestVersion) && digits(text.substr(dot + 1));
  }
  if (!ok) f.fail("manifest_version", "is " + v.dump() + "; this runtime reads major version " + std::to_string(kManifestVersion) + " (1 or \"1.N\")");
}

// interface.hypernet_inputs: the latent [batch, z_dim] first, then per-sample float32 scalars
// [batch] (e.g. truncation_psi). The neutral value of each extra input comes from
// interface.hypernet_input_defaults {name: number} when the manifest has it, else 1.0 (the
// rule of manifest version 1, as the Python runtime's hypernet_extras).
void read_hypernet_inputs(const Fields& f, Manifest& m) {
  const std::string field = "interface.hypernet_inputs";
  const auto& inputs = f.array(field);
  if (inputs.empty()) f.fail(field, "is empty; the first input is the latent");
  std::set<std::string> seen;
  for (const auto& in : inputs) {
    if (!in.is_string() || in.get<std::string>().empty()) f.fail(field, "must hold tensor names (found " + inputs.dump() + ")");
    if (!seen.insert(in.get<std::string>()).second) f.fail(field, "names '" + in.get<std::string>() + "' twice");
  }
  m.z_name = inputs[0].get<std::string>();
  const std::string defaults = "interface.hypernet_input_defaults";
  const bool has_defaults = f.has(defaults);
  if (has_defaults && !f.at(defaults).is_object()) f.fail(defaults, "must be an object {input name: neutral value}");
  for (std::size_t k = 1; k < inputs.size(); ++k) m.extra_inputs.push_back({inputs[k].get<std::string>(), 1.0f});
  if (has_defaults) {
    for (const auto& [name, value] : f.at(defaults).items()) {
      auto it = std::find_if(m.extra_inputs.begin(), m.extra_inputs.end(), [&](const HypernetInput& e) { return e.name == name; });
      if (it == m.extra_inputs.end()) f.fail(defaults, "names '" + name + "', which is not an extra hypernetwork input (interface.hypernet_inputs[1:])");
      const double v = f.number_of(value, defaults + "." + name);
      if (!std::isfinite(v) || std::fabs(v) > 3.0e38) f.fail(defaults + "." + name, "must be a finite float32 (found " + value.dump() + ")");
      it->neutral = static_cast<float>(v);
    }
  }
  // the hypernet graph's record of the extras, when present, must say per-sample float32
  if (f.has("graphs.hypernet.inputs") && f.at("graphs.hypernet.inputs").is_array()) {
    for (const auto& rec : f.at("graphs.hypernet.inputs")) {
      if (!rec.is_object() || !rec.contains("name") || !rec["name"].is_string() || rec["name"] == m.z_name) continue;
      const bool scalar = rec.contains("shape") && rec["shape"].is_array() && rec["shape"].size() == 1 &&
                          (!rec.contains("dtype") || rec["dtype"] == "float32");
      if (!scalar)
        f.fail("graphs.hypernet.inputs", "has input '" + rec["name"].get<std::string>() + "' of shape " +
                                             (rec.contains("shape") ? rec["shape"].dump() : std::string("?")) +
                                             "; this runtime feeds extra hypernetwork inputs as float32 [batch]");
    }
  }
}

// A path named in the manifest must stay inside the bundle directory.
fs::path inside(const fs::path& dir, const std::string& rel, const Fields& f, const std::string& field) {
  const fs::path p(rel);
  if (rel.empty() || p.is_absolute()) f.fail(field, "names '" + rel + "', which is not a relative path inside the bundle");
  for (const auto& part : p)
    if (part == "..") f.fail(field, "names '" + rel + "', which leaves the bundle directory");
  return confined_path(dir, rel, field);  // and no symlink out of it
}

}  // namespace

std::string failed_gate(const GateVerdicts& gates, const std::string& backend) {
  if (gates.int8_failed) return "its INT8 gate failed (" + gates.int8_why + ")";
  if (gates.has_paths) {
    std::vector<std::string> failed;
    for (const auto& [name, path_backend] : gates.failed_paths)
      if (path_backend == backend) failed.push_back(name);
    if (failed.empty()) return "";
    std::string why = "its parity gate failed for ";
    for (std::size_t i = 0; i < failed.size(); ++i) why += (i ? ", " : "") + failed[i];
    for (const auto& f : gates.parity_failures)  // the first recorded failure of one of them
      if (std::any_of(failed.begin(), failed.end(), [&](const std::string& n) { return f.find("(" + n + ",") != std::string::npos; }))
        return why + " (" + f + ")";
    return why;
  }
  if (gates.parity_failed) return "its parity gate failed" + (gates.parity_failures.empty() ? "" : " (" + gates.parity_failures[0] + ")");
  return "";
}

namespace {

// the manifest's JSON with the order in which its parity paths were written (verdicts name them)
json parse_with_path_order(const std::string& manifest_json, std::vector<std::string>* order) {
  try {
    return json::parse(manifest_json, parity_path_order(order));
  } catch (const json::exception& e) {
    throw BundleError(std::string("manifest is not valid JSON: ") + e.what());
  }
}

}  // namespace

std::string failed_gate_from_json(const std::string& manifest_json, const std::string& backend) {
  std::vector<std::string> order;
  json root = parse_with_path_order(manifest_json, &order);
  return failed_gate(read_gates(root, order), backend);
}

std::vector<ParityGate> parity_gates_from_json(const std::string& manifest_json) {
  std::vector<std::string> order;
  json root = parse_with_path_order(manifest_json, &order);
  return read_parity_gates(root, order, "manifest");
}

std::string Manifest::graph_path(const std::string& graph, const std::string& kind) const {
  if (!has_graph_file(graph, kind))
    throw BundleError("bundle " + dir + " has no " + kind + " file for graph '" + graph + "' (field 'graphs." + graph + "." + kind + "')");
  const std::string& rel = graph_files.at(graph).at(kind);
  // engines built after the export by the bundle's build script are not listed (as in Python)
  if (kind != "tensorrt") require_listed(listed_files, rel, "graphs." + graph + "." + kind);
  return confined_path(fs::path(dir), rel, "graphs." + graph + "." + kind).string();
}

bool Manifest::has_graph_file(const std::string& graph, const std::string& kind) const {
  const auto it = graph_files.find(graph);
  return it != graph_files.end() && it->second.count(kind);
}

GridLayout grid_layout_from_json(const std::string& grid_json) {
  json root;
  try {
    root = json{{"interface", {{"grid", json::parse(grid_json)}}}};
  } catch (const json::exception& e) {
    throw BundleError(std::string("grid layout is not valid JSON: ") + e.what());
  }
  return read_layout(Fields(root, "grid layout"));
}

Manifest read_manifest(const std::string& dir_text, bool verify_checksums) {
  const fs::path dir(dir_text);
  if (!fs::is_directory(dir)) throw BundleError("bundle " + dir_text + " is not a directory");
  const fs::path manifest_path = dir / kManifestFile;
  if (!fs::is_regular_file(manifest_path)) throw BundleError("bundle " + dir_text + " has no " + kManifestFile);
  std::vector<std::string> parity_paths;
  const json root = parse_file(manifest_path, &parity_paths);
  if (!root.is_object()) throw BundleError(manifest_path.string() + " is not a JSON object");
  const Fields f(root, manifest_path.string());

  // what the manifest is: checked first, so a foreign file is named as such
  if (!root.contains("schema") || root["schema"] != kSchema)
    f.fail("schema", "is " + (root.contains("schema") ? root["schema"].dump() : std::string("missing")) + "; this runtime reads '" + kSchema + "'");
  check_manifest_version(f, root);

  Manifest m;
  m.dir = dir_text;
  m.family = f.str("family");  // recorded, never branched on: the interface says how to render

  m.z_dim = f.integer("interface.z_dim", 1, kMaxZDim);
  m.theta_dim = f.integer("interface.theta_dim", 1, kMaxThetaDim);
  const auto& native = f.array("interface.native_size", 2);
  m.native_size = {f.integer_of(native[0], "interface.native_size", 1), f.integer_of(native[1], "interface.native_size", 1)};
  read_hypernet_inputs(f, m);
  m.theta_name = f.str("interface.theta_name");
  m.output_name = f.str("interface.output_name");
  m.layout = read_layout(f);

  const auto& bpp = f.array("interface.memory.bytes_per_pixel", static_cast<std::size_t>(m.layout.num_blocks()));
  for (const auto& v : bpp) m.bytes_per_pixel.push_back(f.integer_of(v, "interface.memory.bytes_per_pixel", 0, kMaxBytesPerPixel));

  if (f.has("interface.display")) {
    const std::string d = "interface.display";
    if (f.has(d + ".clamp")) {
      const auto& clamp = f.array(d + ".clamp", 2);
      m.display.clamp_lo = f.number_of(clamp[0], d + ".clamp");
      m.display.clamp_hi = f.number_of(clamp[1], d + ".clamp");
    }
    if (f.has(d + ".scale")) m.display.scale = f.number_of(f.at(d + ".scale"), d + ".scale");
    if (f.has(d + ".offset")) m.display.offset = f.number_of(f.at(d + ".offset"), d + ".offset");
  }
  if (f.has("interface.size_range")) {
    const auto& range = f.array("interface.size_range", 2);
    Size lo{}, hi{};
    for (int k = 0; k < 2; ++k) {
      const auto& pair = range[static_cast<std::size_t>(k)];
      if (!pair.is_array() || pair.size() != 2) f.fail("interface.size_range", "must be [[h_min, w_min], [h_max, w_max]]");
      Size& s = k == 0 ? lo : hi;
      s = {f.integer_of(pair[0], "interface.size_range", 1), f.integer_of(pair[1], "interface.size_range", 1)};
    }
    m.size_range = std::make_pair(lo, hi);
  }

  const json& graphs = f.at("graphs");
  if (!graphs.is_object()) f.fail("graphs", "must be an object");
  for (const auto& [name, entry] : graphs.items()) {
    if (!entry.is_object()) f.fail("graphs." + name, "must be an object");
    for (const char* kind : {"onnx", "openvino", "tensorrt", "ort", "pte"}) {
      if (!entry.contains(kind)) continue;
      const std::string field = "graphs." + name + "." + kind;
      const std::string rel = f.str(field);
      if (!fs::is_regular_file(inside(dir, rel, f, field)))
        throw BundleError("bundle " + dir_text + " lacks " + rel + " (named in field '" + field + "')");
      m.graph_files[name][kind] = rel;
    }
    if (entry.contains("inputs") && entry["inputs"].is_array()) {
      std::vector<std::string>& names = m.graph_inputs[name];
      for (const auto& rec : entry["inputs"]) {
        if (!rec.is_object() || !rec.contains("name") || !rec["name"].is_string())
          f.fail("graphs." + name + ".inputs", "must be a list of {name, shape, dtype} (found " + rec.dump() + ")");
        names.push_back(rec["name"].get<std::string>());
      }
    }
  }
  for (const char* needed : {"hypernet", "inr"})
    if (!m.graph_files.count(needed)) f.fail(std::string("graphs.") + needed, "is missing (or names no graph file)");

  if (f.has("openvino")) {
    if (f.has("openvino.precision")) {
      m.openvino_precision = f.str("openvino.precision");
      if (!kOpenVinoHints.count(m.openvino_precision))
        f.fail("openvino.precision", "is '" + m.openvino_precision + "'; this runtime knows: bf16, fp16, fp32, int8");
    }
    m.openvino_inference_precision = kOpenVinoHints.at(m.openvino_precision);
    // a plain string here names the hint itself; an object is the per-graph record of what
    // the compiled models reported at export time
    if (f.has("openvino.inference_precision") && f.at("openvino.inference_precision").is_string()) {
      m.openvino_inference_precision = f.str("openvino.inference_precision");
      if (!kInferencePrecisions.count(m.openvino_inference_precision))
        f.fail("openvino.inference_precision", "is '" + m.openvino_inference_precision + "'; this runtime knows: " + joined(kInferencePrecisions));
    }
    if (f.has("openvino.device")) m.openvino_device = f.str("openvino.device");
  }

  if (f.has("executorch")) {
    m.executorch_batch = f.integer("executorch.bound.max_batch", 1, kMaxBoundBatch);
    const json& dims = f.at("executorch.bound.dims");
    if (!dims.is_object()) f.fail("executorch.bound.dims", "must be an object of {dim name: largest value}");
    for (int b = 0; b < m.layout.num_blocks(); ++b) {
      const std::string h = "executorch.bound.dims.h" + std::to_string(b), w = "executorch.bound.dims.w" + std::to_string(b);
      m.executorch_blocks.push_back({f.integer(h, 1, kMaxBlockSide), f.integer(w, 1, kMaxBlockSide)});
    }
  }
  m.gates = read_gates(root, parity_paths);
  m.gates.rules = read_parity_gates(root, parity_paths, manifest_path.string());

  // every listed file exists and (when asked) matches its SHA-256
  const json& files = f.at("files");
  if (!files.is_object()) f.fail("files", "must be an object of {path: {sha256, bytes}}");
  for (const auto& [rel, entry] : files.items()) {
    const fs::path p = inside(dir, rel, f, "files");
    m.listed_files.insert(rel);
    if (!fs::is_regular_file(p)) throw BundleError("bundle " + dir_text + " lacks " + rel + " (listed in field 'files')");
    if (!verify_checksums) continue;
    if (!entry.is_object() || !entry.contains("sha256") || !entry["sha256"].is_string())
      f.fail("files." + rel + ".sha256", "is missing");
    if (sha256_file(p.string()) != entry["sha256"].get<std::string>())
      throw BundleError("bundle file " + rel + " does not match its SHA-256 in field 'files' (modified or corrupt)");
  }
  return m;
}

}  // namespace inrgan::detail
