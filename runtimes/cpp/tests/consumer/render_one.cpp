// The consumer project's one source: renders seed S of BUNDLE at HxW to OUT.npy through the
// installed library's public header only.
//   render_one BUNDLE SEED H W OUT.npy
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <inrgan/inrgan.hpp>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: render_one BUNDLE SEED H W OUT.npy\n");
    return 2;
  }
  try {
    auto g = inrgan::Generator::open(argv[1]);
    const auto z = inrgan::latent_from_seed(static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10)), g.z_dim());
    const inrgan::Size size{std::atoi(argv[3]), std::atoi(argv[4])};
    const auto theta = g.hypernet(z);
    inrgan::Images images{1, size.height, size.width, std::vector<float>(inrgan::Generator::output_values(1, size))};
    g.render(theta.data(), theta.size(), size, {}, images.data.data(), images.data.size());
    inrgan::write_npy(argv[5], images);
    return 0;
  } catch (const inrgan::Error& e) {
    std::fprintf(stderr, "render_one: error: %s\n", e.what());
    return e.exit_code();
  }
}
