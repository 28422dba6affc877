// Unit tests that need no bundle: .npy reading and writing, latent files, argument parsing,
// size rule and index arithmetic, output files.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "check.hpp"
#include "grid.hpp"
#include "manifest.hpp"
#include "npy.hpp"
#include "manifest.hpp"
#include "render_args.hpp"
#include "tiling.hpp"

namespace fs = std::filesystem;
using namespace inrgan;

namespace {

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("inrgan_units_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// A .npy file with the given header dict text and raw data.
std::string npy_file(const std::string& name, const std::string& dict, const void* data, std::size_t bytes) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  const fs::path p = temp_dir() / name;
  std::ofstream out(p, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  return p.string();
}

}  // namespace

TEST_CASE(latent_files_in_c_and_fortran_order_and_either_byte_order) {
  const float c_order[6] = {1, 2, 3, 4, 5, 6};  // [2, 3]
  int rows = 0;
  auto z = read_latents_npy(npy_file("c.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", c_order, 24), 3, &rows);
  CHECK(rows == 2 && z == std::vector<float>({1, 2, 3, 4, 5, 6}));
  const float f_order[6] = {1, 4, 2, 5, 3, 6};
  z = read_latents_npy(npy_file("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f_order, 24), 3);
  CHECK(z == std::vector<float>({1, 2, 3, 4, 5, 6}));
  double wide[3] = {0.5, -1.25, 3.0};
  z = read_latents_npy(npy_file("d.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", wide, 24), 3, &rows);
  CHECK(rows == 1 && z == std::vector<float>({0.5f, -1.25f, 3.0f}));
  unsigned char big[4] = {0x3f, 0x80, 0x00, 0x00};  // 1.0f big-endian
  z = read_latents_npy(npy_file("b.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }", big, 4), 1);
  CHECK(z == std::vector<float>({1.0f}));
}

TEST_CASE(bad_latent_files_name_the_problem) {
  const float v[4] = {0, 1, NAN, 3};
  CHECK_THROWS(InputValueError, read_latents_npy(npy_file("nan.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, 16), 2), "row 1");
  CHECK_THROWS(ShapeError, read_latents_npy(npy_file("w.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, 16), 16), "[2, 2]");
  const std::int32_t ints[2] = {1, 2};
  CHECK_THROWS(InputValueError, read_latents_npy(npy_file("i.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", ints, 8), 2), "dtype <i4");
  CHECK_THROWS(UsageError, read_latents_npy(npy_file("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }", v, 16), 2), "data size");
  CHECK_THROWS(UsageError, read_latents_npy(npy_file("obj.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", v, 8), 2), "pickle");
  CHECK_THROWS(UsageError, read_latents_npy((temp_dir() / "missing.npy").string(), 2), "does not exist");
  { std::ofstream((temp_dir() / "text.npy").string()) << "hello"; }
  CHECK_THROWS(UsageError, read_latents_npy((temp_dir() / "text.npy").string(), 2), "not a plain .npy");
  const double huge[1] = {1e300};
  CHECK_THROWS(InputValueError, read_latents_npy(npy_file("huge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", huge, 8), 1), "float32");
}

TEST_CASE(npy_output_round_trips) {
  Images img{2, 3, 4, std::vector<float>(2 * 3 * 3 * 4)};
  for (std::size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>(i) * 0.5f;
  const auto path = (temp_dir() / "out.npy").string();
  write_npy(path, img);
  const auto arr = detail::read_npy(path);
  CHECK(arr.descr == "<f4" && !arr.fortran_order && arr.shape == std::vector<std::int64_t>({2, 3, 3, 4}));
  CHECK(arr.bytes.size() == img.data.size() * 4 && std::memcmp(arr.bytes.data(), img.data.data(), arr.bytes.size()) == 0);
  CHECK_THROWS(OutputError, write_npy((temp_dir() / "no_such_dir" / "x.npy").string(), img), "does not exist");
  // a failed write leaves nothing behind (no temporary siblings)
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(temp_dir())) leftovers += e.path().filename().string().rfind(".out.npy", 0) == 0;
  CHECK(leftovers == 0);
}

TEST_CASE(sizes_windows_seeds_and_budgets_parse_as_in_python) {
  CHECK(cli::parse_size("64").height == 64 && cli::parse_size("64").width == 64);
  CHECK(cli::parse_size("96x160").height == 96 && cli::parse_size("96X160").width == 160);
  CHECK(cli::parse_size("96\xc3\x97" "160").width == 160);
  CHECK_THROWS(UsageError, cli::parse_size("abc"), "is not HxW or N");
  CHECK_THROWS(UsageError, cli::parse_size("1x2x3"), "is not HxW or N");
  CHECK_THROWS(ShapeError, cli::parse_size("0x5"), "1..65536");
  CHECK_THROWS(ShapeError, cli::parse_size("65537"), "1..65536");
  const Window w = cli::parse_window("0.2,0.25,0.8,0.75");
  CHECK(w.x0 == static_cast<float>(0.2) && w.y1 == 0.75f);
  CHECK_THROWS(UsageError, cli::parse_window("1,1,0,0"), "is empty");
  CHECK_THROWS(UsageError, cli::parse_window("0,0,nan,1"), "non-finite");
  CHECK_THROWS(UsageError, cli::parse_window("0,0,1"), "X0,Y0,X1,Y1");
  CHECK(cli::parse_seeds("3") == std::vector<std::uint32_t>({3}));
  CHECK(cli::parse_seeds("0-2,9") == std::vector<std::uint32_t>({0, 1, 2, 9}));
  CHECK(cli::parse_seeds("4294967295") == std::vector<std::uint32_t>({4294967295u}));
  for (const char* bad : {"x", "5-2", "1,,2", ""}) CHECK_THROWS(UsageError, cli::parse_seeds(bad), "is not N, A-B");
  CHECK_THROWS(UsageError, cli::parse_seeds("-1"), "out of range");
  CHECK_THROWS(UsageError, cli::parse_seeds("4294967296"), "out of range");
  CHECK_THROWS(UsageError, cli::parse_seeds("0-5000"), "more than 4096");
  CHECK(cli::parse_bytes("512M") == 512u << 20 && cli::parse_bytes("1.5GiB") == 3u << 29 && cli::parse_bytes("2g") == 2ull << 30);
  CHECK_THROWS(UsageError, cli::parse_bytes("12"), "too small");
  CHECK_THROWS(UsageError, cli::parse_bytes("lots"), "not a size");
}

TEST_CASE(command_lines) {
  auto args = cli::parse_render_args({"b/", "--seed", "1,2", "--size=8x4", "-o", "x.png"});
  CHECK(args.bundle == "b/" && args.seeds.size() == 2 && args.size->width == 4 && args.out == "x.png");
  CHECK(cli::parse_render_args({"b/", "-o", "x.png"}).seeds == std::vector<std::uint32_t>({0}));  // default seed 0
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "--seed", "1", "--latent", "z.npy", "-o", "x.png"}), "not allowed with");
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/"}), "-o/--out");
  CHECK_THROWS(UsageError, cli::parse_render_args({"-o", "x.png"}), "BUNDLE");
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "--bogus", "-o", "x.png"}), "--bogus");
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "-o"}), "expected one argument");
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "--backend", "tflite", "-o", "x.png"}), "valid: openvino, tensorrt, onnxruntime, executorch");
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "--threads", "0", "-o", "x.png"}), "positive integer");
}

TEST_CASE(paper_size_rule_and_indices) {
  // demo:church: native 256, 2 blocks, upsample_block_idx 1 (values from inrgan_export.core.grid)
  const detail::PaperExpSizeRule church(256, 2, 1);
  CHECK(church.block_sizes_1d(256) == std::vector<int>({128, 256}));
  CHECK(church.block_sizes_1d(384) == std::vector<int>({192, 384}));
  CHECK(church.block_sizes_1d(768) == std::vector<int>({128, 768}));
  CHECK(church.block_sizes_1d(64) == std::vector<int>({32, 64}));
  CHECK(church.block_sizes_1d(1) == std::vector<int>({1, 1}));
  CHECK(detail::nearest_indices(4, 8) == std::vector<std::int32_t>({0, 0, 1, 1, 2, 2, 3, 3}));
  CHECK(detail::nearest_indices(3, 3) == std::vector<std::int32_t>({0, 1, 2}));
  CHECK(detail::nearest_indices(2, 5) == std::vector<std::int32_t>({0, 0, 0, 1, 1}));
  const auto lin = detail::linear_indices(2, 4, false);
  CHECK(lin.i0 == std::vector<std::int32_t>({0, 0, 0, 1}) && lin.i1 == std::vector<std::int32_t>({1, 1, 1, 1}));
  CHECK(lin.w1 == std::vector<float>({0.0f, 0.25f, 0.75f, 0.25f}));  // the last sample clamps i1, keeps w
}

TEST_CASE(plans_stay_within_an_executorch_bound) {
  // demo:tiny's grid (3 blocks, paper-exp, native 16) exported with the default bound 32x32, batch 4
  const auto layout = detail::grid_layout_from_json(R"({
    "size_rule": {"kind": "paper-exp", "native": 16, "num_blocks": 3, "upsample_block_idx": 2},
    "coordinates": {"offset": [0.0, 0.0], "scale": [1.0, 1.0]},
    "resample": {"mode": "nearest", "align_corners": false, "edges": [[0, 1], [0, 2], [1, 2]]},
    "inputs": [
      {"name": "coords_0", "kind": "coords", "block": 0, "axis": null, "source_block": null, "dtype": "float32"},
      {"name": "coords_1", "kind": "coords", "block": 1, "axis": null, "source_block": null, "dtype": "float32"},
      {"name": "coords_2", "kind": "coords", "block": 2, "axis": null, "source_block": null, "dtype": "float32"},
      {"name": "up0to1_y", "kind": "index", "block": 1, "axis": "y", "source_block": 0, "dtype": "int32"},
      {"name": "up0to1_x", "kind": "index", "block": 1, "axis": "x", "source_block": 0, "dtype": "int32"},
      {"name": "up0to2_y", "kind": "index", "block": 2, "axis": "y", "source_block": 0, "dtype": "int32"},
      {"name": "up0to2_x", "kind": "index", "block": 2, "axis": "x", "source_block": 0, "dtype": "int32"},
      {"name": "up1to2_y", "kind": "index", "block": 2, "axis": "y", "source_block": 1, "dtype": "int32"},
      {"name": "up1to2_x", "kind": "index", "block": 2, "axis": "x", "source_block": 1, "dtype": "int32"}]})");
  const std::vector<std::int64_t> bpp{784, 1232, 656};
  const detail::PieceBounds bound{4, {{7, 7}, {15, 15}, {32, 32}}};
  const std::int64_t budget = std::int64_t{1} << 30;
  // within the bound: batch chunks of at most 4, no tiles; without a bound, one run
  const auto inside = layout.build({32, 24}, Window{});
  const auto chunked = detail::plan_render(layout, inside, bpp, 6, budget, 0, &bound);
  CHECK(chunked.batch_chunk == 4 && chunked.tiles.empty());
  CHECK(detail::plan_render(layout, inside, bpp, 6, budget).batch_chunk == 6);
  // past it: tiles whose every block fits, one sample per run
  const auto past = layout.build({48, 40}, Window{-0.1f, 0.0f, 1.2f, 0.9f});
  const auto tiled = detail::plan_render(layout, past, bpp, 6, budget, 0, &bound);
  CHECK(tiled.batch_chunk == 1 && tiled.tiles.size() > 1);
  for (const auto& t : tiled.tiles) CHECK(bound.holds(t.block_shapes()));
  CHECK(detail::plan_render(layout, past, bpp, 6, budget).tiles.empty());
  // one row of block 0 spans 128 output rows at 512: no split fits
  CHECK_THROWS(ShapeError, detail::plan_render(layout, layout.build({512, 512}, Window{}), bpp, 1, budget, 0, &bound),
               "size 512x512 cannot be split into pieces within this bundle's ExecuTorch bound (blocks up to 7x7, 15x15, 32x32, batch up to 4)");
}

TEST_CASE(png_output_uses_the_display_mapping) {
  // values at the rounding ties: 127.5 * x + 127.5 = k + 0.5 rounds to the even neighbour
  Images img{1, 1, 4, {-2.0f, 1.0f / 255.0f, 1.0f, 0.5f, 0, 0, 0, 0, 0, 0, 0, 0}};
  const auto path = (temp_dir() / "p.png").string();
  write_png(path, img, 0, DisplayMapping{});
  CHECK(fs::file_size(path) > 0);
  CHECK_THROWS(ShapeError, write_png(path, img, 1, DisplayMapping{}), "outside the batch");
}

TEST_CASE(recorded_gates_refuse_backends_as_in_python) {
  const auto why = [](const std::string& manifest, const std::string& backend) { return detail::failed_gate_from_json(manifest, backend); };
  // a failed INT8 gate condemns every backend: its failed_by, else its reason, else the field
  const std::string int8 = R"({"int8": {"gates": {"passed": false, "failed_by": ["PSNR 31.2 dB < 40 dB", "theta max abs 0.2"]}},
                              "parity": {"passed": true, "paths": {"onnxruntime split": {"backend": "onnxruntime", "passed": true}}}})";
  for (const char* backend : {"onnxruntime", "openvino", "tensorrt"})
    CHECK(why(int8, backend) == "its INT8 gate failed (PSNR 31.2 dB < 40 dB; theta max abs 0.2)");
  CHECK(why(R"({"int8": {"gates": {"passed": false, "reason": "calibration diverged"}}})", "openvino") == "its INT8 gate failed (calibration diverged)");
  CHECK(why(R"({"int8": {"gates": {"passed": false}}})", "tensorrt") == "its INT8 gate failed (see manifest field int8.gates)");
  CHECK(why(R"({"int8": {"gates": {"passed": true}}})", "openvino").empty());
  // a failed parity path condemns its backend only, even when the overall verdict failed
  const std::string path = R"({"parity": {"passed": false, "failures": [
      "native 16x16 (openvino fused, batch 1): max abs 0.3 > 0.0001",
      "native 16x16 (onnxruntime split, batch 4): max abs 0.5 > 0.0001"],
    "paths": {"onnxruntime split": {"backend": "onnxruntime", "passed": false}, "openvino fused": {"backend": "openvino", "passed": true}}}})";
  CHECK(why(path, "onnxruntime") == "its parity gate failed for onnxruntime split (native 16x16 (onnxruntime split, batch 4): max abs 0.5 > 0.0001)");
  CHECK(why(path, "openvino").empty());
  CHECK(why(path, "tensorrt").empty());
  // several failed paths of one backend, named in the manifest's order (not sorted)
  const std::string two = R"({"parity": {"passed": false, "failures": ["half 8x8 (openvino fused, batch 1): NaN/Inf in output"],
    "paths": {"openvino split": {"backend": "openvino", "passed": false}, "openvino fused": {"backend": "openvino", "passed": false}}}})";
  CHECK(why(two, "openvino") == "its parity gate failed for openvino split, openvino fused (half 8x8 (openvino fused, batch 1): NaN/Inf in output)");
  CHECK(why(R"({"parity": {"paths": {"openvino split": {"backend": "openvino", "passed": false}}}})", "openvino") ==
        "its parity gate failed for openvino split");
  // bundles without per-path verdicts: the overall verdict, for every backend
  const std::string legacy = R"({"parity": {"passed": false, "failures": ["native 16x16 (fp32, batch 1): max abs 0.5 > 0.0001", "second"]}})";
  for (const char* backend : {"onnxruntime", "openvino", "tensorrt"})
    CHECK(why(legacy, backend) == "its parity gate failed (native 16x16 (fp32, batch 1): max abs 0.5 > 0.0001)");
  CHECK(why(R"({"parity": {"passed": false, "paths": {}}})", "openvino") == "its parity gate failed");
  // passed, missing, or not exactly false: no verdict against the backend
  for (const char* ok : {R"({})", R"({"parity": {"passed": true}})", R"({"parity": {"passed": "false"}})", R"({"int8": {"gates": {}}})",
                         R"({"int8": {"passed": false}, "parity": null})"})
    CHECK(why(ok, "openvino").empty());
  CHECK_THROWS(BundleError, why("{not json", "openvino"), "not valid JSON");
  ParityError e("x");
  CHECK(e.exit_code() == 4);
}

TEST_CASE(recorded_parity_rules_are_read_and_checked) {
  const auto gates = detail::parity_gates_from_json(R"j({"parity": {"passed": true,
    "paths": {"openvino split": {"backend": "openvino", "passed": true}, "onnxruntime fused (polygraphy)": {"backend": "onnxruntime", "passed": true}},
    "gates": {"onnxruntime fused (polygraphy)": {"precision": "fp32", "rule": "max_abs_scaled", "atol": 0.0001, "min_psnr_db": null},
              "openvino split": {"precision": "bf16", "rule": "min_psnr", "min_psnr_db": 40}}}})j");
  CHECK(gates.size() == 2);
  CHECK(gates[0].path == "openvino split" && gates[0].rule == "min_psnr" && gates[0].min_psnr_db == 40.0);  // parity.paths' order
  CHECK(gates[0].description == "PSNR >= 40 dB");
  CHECK(gates[1].rule == "max_abs_scaled" && gates[1].atol == 0.0001 && gates[1].precision == "fp32");
  CHECK(gates[1].description == "max abs <= 0.0001 * max(1, max|ref|)");
  // bundles written before the rule was recorded: the absolute bound under max_abs
  const auto old = detail::parity_gates_from_json(R"({"parity": {"gates": {"onnxruntime split": {"precision": "fp32", "max_abs": 0.0001, "min_psnr_db": null}}}})");
  CHECK(old.size() == 1 && old[0].rule == "max_abs" && old[0].atol == 0.0001 && old[0].description == "max abs <= 0.0001");
  CHECK(detail::parity_gates_from_json(R"({"parity": {"passed": true}})").empty());
  CHECK(detail::parity_gates_from_json(R"({})").empty());
  // a rule this runtime does not know, or numbers that do not fit it: named
  CHECK_THROWS(BundleError, detail::parity_gates_from_json(R"({"parity": {"gates": {"x split": {"rule": "psnr_of_range"}}}})"),
               "field 'parity.gates['x split']' rule is 'psnr_of_range'; this runtime knows max_abs_scaled, max_abs, min_psnr");
  CHECK_THROWS(BundleError, detail::parity_gates_from_json(R"({"parity": {"gates": {"x split": {"rule": "max_abs_scaled", "atol": -1}}}})"),
               "atol must be a positive number");
  CHECK_THROWS(BundleError, detail::parity_gates_from_json(R"({"parity": {"gates": {"x split": {"rule": "min_psnr"}}}})"),
               "min_psnr_db must be a number");
}

TEST_CASE(allow_failed_parity_on_the_command_line) {
  CHECK(!cli::parse_render_args({"b/", "-o", "x.png"}).allow_failed_parity);
  CHECK(cli::parse_render_args({"b/", "--allow-failed-parity", "-o", "x.png"}).allow_failed_parity);
  CHECK_THROWS(UsageError, cli::parse_render_args({"b/", "--allow-failed-parity=yes", "-o", "x.png"}), "ignored explicit argument 'yes'");
  CHECK(std::string(cli::kUsage).find("--allow-failed-parity") != std::string::npos);
}

TEST_MAIN()
