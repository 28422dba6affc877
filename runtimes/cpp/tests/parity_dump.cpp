// Renders many cases of one bundle in one process, through the caller-buffer render, for the
// C++ vs Python parity tests (tests/runtimes/test_cpp_runtime.py):
//   inrgan-parity-dump BUNDLE Z.npy CASES.txt OUT_DIR [BACKEND]
// CASES.txt: one case per line, "LABEL H W X0 Y0 X1 Y1 BATCH [NAME=VALUE ...]"; the first BATCH
// rows of Z.npy are rendered at HxW over the window with the named extra hypernetwork inputs,
// and written to OUT_DIR/LABEL.npy, with BACKEND (default openvino) on CPU; stdout gets
// "LABEL pieces=N", the number of backend runs of the render. Exit 1 when the render wrote outside its share of the
// buffer (a guard band after it must stay untouched).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "inrgan/inrgan.hpp"

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: inrgan-parity-dump BUNDLE Z.npy CASES.txt OUT_DIR [BACKEND]\n");
    return 2;
  }
  try {
    auto g = inrgan::Generator::open(argv[1], argc == 6 ? inrgan::parse_backend(argv[5]) : inrgan::Backend::OpenVINO, "CPU");
    int rows = 0;
    const auto z_all = inrgan::read_latents_npy(argv[2], g.z_dim(), &rows);
    std::ifstream cases(argv[3]);
    int done = 0;
    for (std::string line; std::getline(cases, line);) {
      if (line.empty()) continue;
      std::istringstream in(line);
      std::string label;
      inrgan::Size size;
      inrgan::Window w;
      int batch = 0;
      in >> label >> size.height >> size.width >> w.x0 >> w.y0 >> w.x1 >> w.y1 >> batch;
      if (!in || batch < 1 || batch > rows) throw inrgan::UsageError("bad case line: " + line);
      inrgan::HypernetInputs extra;
      for (std::string kv; in >> kv;) {
        const auto eq = kv.find('=');
        extra[kv.substr(0, eq)] = {std::stof(kv.substr(eq + 1))};
      }
      const std::vector<float> z(z_all.begin(), z_all.begin() + static_cast<std::ptrdiff_t>(batch) * g.z_dim());
      const auto theta = g.hypernet(z, extra);
      const std::size_t needed = inrgan::Generator::output_values(batch, size);
      constexpr std::size_t kGuard = 64;
      std::vector<float> buffer(needed + kGuard, -12345.0f);
      const int n = g.render(theta.data(), theta.size(), size, w, buffer.data(), buffer.size());
      for (std::size_t i = needed; i < buffer.size(); ++i)
        if (buffer[i] != -12345.0f) {
          std::fprintf(stderr, "%s: render wrote past its %zu output values\n", label.c_str(), needed);
          return 1;
        }
      inrgan::Images images{n, size.height, size.width, std::vector<float>(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(needed))};
      inrgan::write_npy(std::string(argv[4]) + "/" + label + ".npy", images);
      std::printf("%s pieces=%d\n", label.c_str(), g.last_render_pieces());
      ++done;
    }
    if (done == 0) {
      std::fprintf(stderr, "no case in %s\n", argv[3]);
      return 1;
    }
    std::fprintf(stderr, "rendered %d cases\n", done);
    return 0;
  } catch (const inrgan::Error& e) {
    std::fprintf(stderr, "inrgan-parity-dump: error: %s\n", e.what());
    return e.exit_code();
  }
}
