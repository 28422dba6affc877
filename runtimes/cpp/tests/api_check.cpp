// C++ API checks on a real bundle (run by tests/runtimes/test_cpp_runtime.py):
//   inrgan-api-check BUNDLE
#include <algorithm>
#include <cmath>

#include "check.hpp"
#include "inrgan/inrgan.hpp"

namespace {
std::string g_bundle;

std::vector<float> seeds(std::initializer_list<std::uint32_t> list, int z_dim) {
  std::vector<float> z;
  for (auto s : list) {
    const auto row = inrgan::latent_from_seed(s, z_dim);
    z.insert(z.end(), row.begin(), row.end());
  }
  return z;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}
}  // namespace

TEST_CASE(open_and_describe) {
  auto g = inrgan::Generator::open(g_bundle, inrgan::Backend::OpenVINO, "CPU");
  CHECK(g.z_dim() > 0 && g.theta_dim() > 0 && g.native_size().height > 0);
  CHECK(g.backend() == inrgan::Backend::OpenVINO && g.device() == "CPU");
  auto moved = std::move(g);  // generators are movable handles
  CHECK(moved.z_dim() > 0);
}

TEST_CASE(hypernet_then_many_views) {
  auto g = inrgan::Generator::open(g_bundle);
  const auto z = seeds({0, 1}, g.z_dim());
  const auto theta = g.hypernet(z);
  CHECK(theta.size() == 2 * static_cast<std::size_t>(g.theta_dim()));
  const auto img = g.render(theta, {12, 20}, inrgan::Window{0.2f, 0.2f, 0.8f, 0.8f});
  CHECK(img.batch == 2 && img.height == 12 && img.width == 20 && img.data.size() == 2u * 3 * 12 * 20);
  const auto again = g.generate(z, {12, 20}, inrgan::Window{0.2f, 0.2f, 0.8f, 0.8f});
  CHECK(again.data == img.data);
  const auto one = g.render(std::vector<float>(theta.begin(), theta.begin() + g.theta_dim()), {12, 20}, inrgan::Window{0.2f, 0.2f, 0.8f, 0.8f});
  CHECK(max_abs_diff(one.data, img.data) <= 1e-5f);  // row 0 of the batch
  CHECK(g.last_render_pieces() == 1);
}

TEST_CASE(tiled_and_chunked_renders_equal_the_whole_render) {
  auto whole = inrgan::Generator::open(g_bundle);
  // the budget must hold the render's grid and output (checked up front, 2.1 MB here);
  // the INR's activations at 256x192 (tens of MB) then force tiles
  inrgan::Options small;
  small.max_memory = 5 << 19;
  auto tiled = inrgan::Generator::open(g_bundle, inrgan::Backend::OpenVINO, "CPU", small);
  const auto theta = whole.hypernet(seeds({3, 4, 5}, whole.z_dim()));
  const auto a = whole.render(theta, {256, 192});
  const auto b = tiled.render(theta, {256, 192});
  CHECK(tiled.last_render_pieces() > 3);
  CHECK(max_abs_diff(a.data, b.data) <= 1e-5f);
  // a budget below three native samples' activations forces batch chunks
  inrgan::Options tiny_budget;
  tiny_budget.max_memory = 1 << 18;
  auto chunked = inrgan::Generator::open(g_bundle, inrgan::Backend::OpenVINO, "CPU", tiny_budget);
  const inrgan::Size native = whole.native_size();
  const auto c = whole.render(theta, native), d = chunked.render(theta, native);
  CHECK(chunked.last_render_pieces() > 1);
  CHECK(max_abs_diff(c.data, d.data) <= 1e-5f);
}

TEST_CASE(bad_inputs_are_typed_errors) {
  auto g = inrgan::Generator::open(g_bundle);
  const std::string zdim = "z_dim=" + std::to_string(g.z_dim());
  CHECK_THROWS(inrgan::ShapeError, g.hypernet(std::vector<float>(static_cast<std::size_t>(g.z_dim()) + 1)), zdim.c_str());
  CHECK_THROWS(inrgan::ShapeError, g.hypernet({}), "no values");
  auto z = seeds({0, 1}, g.z_dim());
  z[static_cast<std::size_t>(g.z_dim()) + 2] = NAN;
  CHECK_THROWS(inrgan::InputValueError, g.hypernet(z), "row 1");
  const auto theta = g.hypernet(seeds({0}, g.z_dim()));
  CHECK_THROWS(inrgan::ShapeError, g.render(std::vector<float>(theta.begin(), theta.end() - 1), {8, 8}), "theta_dim");
  CHECK_THROWS(inrgan::ShapeError, g.render(theta, {0, 8}), "1..65536");
  CHECK_THROWS(inrgan::ShapeError, g.render(theta, {8, 70000}), "1..65536");
  CHECK_THROWS(inrgan::UsageError, g.render(theta, {8, 8}, inrgan::Window{0.5f, 0.0f, 0.5f, 1.0f}), "is empty");
  CHECK_THROWS(inrgan::UsageError, g.render(theta, {8, 8}, inrgan::Window{0.0f, 0.0f, INFINITY, 1.0f}), "non-finite");
}

TEST_CASE(opening_errors_are_typed) {
  CHECK_THROWS(inrgan::BundleError, inrgan::Generator::open(g_bundle + "/does-not-exist"), "is not a directory");
  if (!inrgan::is_built(inrgan::Backend::TensorRT))
    CHECK_THROWS(inrgan::BackendUnavailable, inrgan::Generator::open(g_bundle, inrgan::Backend::TensorRT, "cuda:0"), "not built");
  CHECK_THROWS(inrgan::BackendUnavailable, inrgan::Generator::open(g_bundle, inrgan::Backend::OpenVINO, "NPU_NOT_HERE"), "available: ");
  CHECK_THROWS(inrgan::UsageError, inrgan::parse_backend("tflite"), "valid: openvino, tensorrt, onnxruntime, executorch");
}

TEST_CASE(render_into_a_caller_buffer) {
  auto g = inrgan::Generator::open(g_bundle);
  const auto theta = g.hypernet(seeds({2, 6}, g.z_dim()));
  const inrgan::Size size{9, 14};
  const inrgan::Window w{-0.1f, 0.2f, 0.7f, 1.1f};
  const auto want = g.render(theta, size, w);
  const std::size_t needed = inrgan::Generator::output_values(2, size);
  CHECK(needed == want.data.size());
  std::vector<float> buffer(needed + 5, 7.0f);
  CHECK(g.render(theta.data(), theta.size(), size, w, buffer.data(), buffer.size()) == 2);
  CHECK(std::equal(want.data.begin(), want.data.end(), buffer.begin()));
  CHECK(std::all_of(buffer.begin() + static_cast<std::ptrdiff_t>(needed), buffer.end(), [](float v) { return v == 7.0f; }));
  std::vector<float> small(needed - 1, 7.0f);
  CHECK_THROWS(inrgan::ShapeError, g.render(theta.data(), theta.size(), size, w, small.data(), small.size()), "needs");
  CHECK(std::all_of(small.begin(), small.end(), [](float v) { return v == 7.0f; }));  // nothing written
  CHECK_THROWS(inrgan::ShapeError, g.render(theta.data(), theta.size(), size, w, nullptr, needed), "needs");
}

// Extra hypernetwork inputs: g_expected_extra names the one the bundle must declare (or none).
std::string g_expected_extra;

TEST_CASE(extra_hypernet_inputs_by_name) {
  auto g = inrgan::Generator::open(g_bundle);
  const auto extras = g.extra_hypernet_inputs();
  const auto z = seeds({1, 4}, g.z_dim());
  CHECK_THROWS(inrgan::UsageError, g.hypernet(z, {{"no_such_input", {1.0f}}}), "no_such_input");
  if (g_expected_extra.empty()) {
    CHECK(extras.empty());
    return;
  }
  CHECK(extras.size() == 1 && extras[0].name == g_expected_extra && extras[0].neutral == 1.0f);
  const std::string name = extras[0].name;
  const auto plain = g.hypernet(z);
  CHECK(g.hypernet(z, {{name, {extras[0].neutral}}}) == plain);                  // the neutral value is the default
  CHECK(g.hypernet(z, {{name, {extras[0].neutral, extras[0].neutral}}}) == plain);  // one value per sample
  const auto moved = g.hypernet(z, {{name, {0.5f}}});
  CHECK(max_abs_diff(moved, plain) > 1e-3f);
  const auto mixed = g.hypernet(z, {{name, {0.5f, extras[0].neutral}}});  // per sample: row 0 moved, row 1 not
  const auto row = static_cast<std::ptrdiff_t>(g.theta_dim());
  CHECK(max_abs_diff(std::vector<float>(mixed.begin(), mixed.begin() + row), std::vector<float>(moved.begin(), moved.begin() + row)) <= 1e-6f);
  CHECK(max_abs_diff(std::vector<float>(mixed.begin() + row, mixed.end()), std::vector<float>(plain.begin() + row, plain.end())) <= 1e-6f);
  CHECK_THROWS(inrgan::ShapeError, g.hypernet(z, {{name, {1.0f, 1.0f, 1.0f}}}), "give 1 or one per latent");
  CHECK_THROWS(inrgan::InputValueError, g.hypernet(z, {{name, {NAN}}}), "NaN");
  CHECK(max_abs_diff(g.generate(z, {8, 8}, {}, {{name, {0.5f}}}).data, g.render(moved, {8, 8}).data) <= 1e-6f);
}

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: inrgan-api-check BUNDLE [EXPECTED_EXTRA_HYPERNET_INPUT]\n");
    return 2;
  }
  g_bundle = argv[1];
  if (argc == 3) g_expected_extra = argv[2];
  return inrgan_test::run_all();
}
