// inrgan-bench: render latency through the C++ API, one line of JSON per run.
//   inrgan-bench BUNDLE [--size HxW] [--threads N] [--warmup W] [--repeat R] [--seed S] [--no-verify]
//                [--no-cache] [--open-only]
// Times Generator::render (theta computed once beforehand), which includes the per-call
// work of the runtime (grid lookup, planning, feeding, copying out), not just inference.
// --open-only times Generator::open instead (manifest, checksums, compiling or loading the
// cached graphs): {"open_ms": T, "cache": true|false}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "inrgan/inrgan.hpp"
#include "render_args.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: inrgan-bench BUNDLE [--size HxW] [--threads N] [--warmup W] [--repeat R] [--seed S] [--no-verify] [--no-cache] [--open-only]\n");
    return 2;
  }
  try {
    std::string bundle = argv[1];
    inrgan::Options options;
    std::optional<inrgan::Size> size;
    int warmup = 2, repeat = 5;
    bool open_only = false;
    std::uint32_t seed = 3;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw inrgan::UsageError(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--size") size = inrgan::cli::parse_size(next());
      else if (arg == "--threads") options.threads = std::atoi(next().c_str());
      else if (arg == "--warmup") warmup = std::atoi(next().c_str());
      else if (arg == "--repeat") repeat = std::atoi(next().c_str());
      else if (arg == "--seed") seed = static_cast<std::uint32_t>(std::stoul(next()));
      else if (arg == "--no-verify") options.verify_checksums = false;
      else if (arg == "--no-cache") options.compiled_model_cache = false;
      else if (arg == "--open-only") open_only = true;
      else throw inrgan::UsageError("unknown option " + arg);
    }
    const auto opened = std::chrono::steady_clock::now();
    auto g = inrgan::Generator::open(bundle, inrgan::Backend::OpenVINO, "CPU", options);
    if (open_only) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - opened).count();
      std::printf("{\"open_ms\": %.3f, \"cache\": %s}\n", ms, options.compiled_model_cache ? "true" : "false");
      return 0;
    }
    const auto theta = g.hypernet(inrgan::latent_from_seed(seed, g.z_dim()));
    const inrgan::Size s = size ? *size : g.native_size();
    for (int i = 0; i < warmup; ++i) g.render(theta, s);
    std::printf("{\"size\": [%d, %d], \"threads\": %d, \"times_ms\": [", s.height, s.width, options.threads);
    for (int i = 0; i < repeat; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto img = g.render(theta, s);
      const auto t1 = std::chrono::steady_clock::now();
      std::printf("%s%.3f", i ? ", " : "", std::chrono::duration<double, std::milli>(t1 - t0).count());
      std::fflush(stdout);
      if (img.data.empty()) return 1;
    }
    std::printf("]}\n");
  } catch (const inrgan::Error& e) {
    std::fprintf(stderr, "inrgan-bench: error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
