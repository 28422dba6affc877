// inrgan-render: render images from an inrgan-export bundle without Python.
//   inrgan-render church_ov/ --seed 3 --size 128x192 --window 0.2,0.2,0.8,0.8 -o out.png
// Errors are one line naming the value, with the exit codes of the Python CLI
// (0 ok, 2 bad input or usage, 3 backend unavailable here, 4 the bundle's recorded gate failed
// for the backend, 1 anything else).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "inrgan/inrgan.hpp"
#include "render_args.hpp"

namespace {

namespace fs = std::filesystem;

// One path per image: `out` itself for one image, stem-<label>.ext for several.
std::vector<std::string> output_paths(const std::string& out, const std::vector<std::string>& labels) {
  if (labels.size() == 1) return {out};
  const fs::path p(out);
  std::vector<std::string> paths;
  for (const auto& label : labels)
    paths.push_back((p.parent_path() / (p.stem().string() + "-" + label + p.extension().string())).string());
  return paths;
}

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string padded(unsigned long long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04llu", v);
  return buf;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// One keyframe -> latent [1, z_dim]: `7` (seed), `bank:N` or `FILE.npy:N` (as inrgan_export/motion.py).
std::vector<float> keyframe_latent(const std::string& key, const std::string& bundle, int z_dim) {
  const auto width = static_cast<std::size_t>(z_dim);
  std::string lower = key;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto row_of = [&](const std::string& path, const std::string& row, const std::string& missing) {
    if (!all_digits(row)) throw inrgan::UsageError("keyframe '" + key + "': takes one row index (e.g. bank:3, walk.npy:0)");
    if (!fs::is_regular_file(path)) throw inrgan::UsageError(missing);
    int rows = 0;
    const auto all = inrgan::read_latents_npy(path, z_dim, &rows);
    const unsigned long r = std::stoul(row);
    if (r >= static_cast<unsigned long>(rows))
      throw inrgan::InputValueError("keyframe " + key + ": row " + row + " is out of range; " + path + " has " + std::to_string(rows) +
                                    " latents (0-" + std::to_string(rows - 1) + ")");
    return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(r * width), all.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
  };
  if (lower.rfind("bank:", 0) == 0)
    return row_of((fs::path(bundle) / "latents.npy").string(), key.substr(5),
                  bundle + " has no latent bank; --latent-bank needs a fitted preset (e.g. demo:photos) or a bundle exported from one");
  const auto colon = key.rfind(':');
  if (colon != std::string::npos && lower.substr(0, colon).size() >= 4 && lower.compare(colon - 4, 4, ".npy") == 0)
    return row_of(key.substr(0, colon), key.substr(colon + 1), "latent file " + key.substr(0, colon) + " does not exist");
  if (all_digits(key)) return inrgan::latent_from_seed(inrgan::cli::parse_seeds(key).at(0), z_dim);
  throw inrgan::UsageError("keyframe '" + key + "' is not a seed, bank:N or FILE.npy:N (e.g. --interpolate 3,bank:0,walk.npy:2)");
}

// --interpolate A,B[,C...] --steps N: theta-space frames through every keyframe, --steps per
// pair with the shared keyframes once ((K - 1) * (N - 1) + 1 frames), as the Python CLI.
int render_interpolation(const inrgan::cli::RenderArgs& args, inrgan::Generator& generator, const std::string& ext) {
  std::vector<std::vector<float>> keys;
  for (const auto& k : args.keyframes) keys.push_back(keyframe_latent(k, args.bundle, generator.z_dim()));
  for (std::size_t i = 0; i + 1 < keys.size(); ++i)
    if (keys[i] == keys[i + 1])
      throw inrgan::InputValueError("keyframe " + std::to_string(i + 1) + " (" + args.keyframes[i] + ") and keyframe " + std::to_string(i + 2) +
                                    " (" + args.keyframes[i + 1] + ") are the same latent: nothing to interpolate (choose two different ones)");
  const inrgan::Size size = args.size ? *args.size : generator.native_size();
  inrgan::HypernetInputs extra;
  if (args.truncation) extra["truncation_psi"] = {*args.truncation};
  const std::size_t per = inrgan::Generator::output_values(1, size);
  inrgan::Images frames;
  frames.height = size.height;
  frames.width = size.width;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    const inrgan::Images part = generator.interpolate(keys[i], keys[i + 1], args.steps, size, args.window, extra);
    const std::size_t skip = i == 0 ? 0 : 1;  // the shared keyframe is already there
    frames.data.insert(frames.data.end(), part.data.begin() + static_cast<std::ptrdiff_t>(skip * per), part.data.end());
    frames.batch += part.batch - static_cast<int>(skip);
  }
  if (ext == ".npy") {
    inrgan::write_npy(args.out, frames);
  } else {  // a strip: the frames side by side, left to right
    inrgan::Images strip;
    strip.batch = 1;
    strip.height = size.height;
    strip.width = size.width * frames.batch;
    strip.data.resize(frames.data.size());
    const auto h = static_cast<std::size_t>(size.height), w = static_cast<std::size_t>(size.width);
    const auto sw = static_cast<std::size_t>(strip.width);
    for (std::size_t f = 0; f < static_cast<std::size_t>(frames.batch); ++f)
      for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t y = 0; y < h; ++y)
          std::copy_n(frames.data.begin() + static_cast<std::ptrdiff_t>(((f * 3 + c) * h + y) * w), w,
                      strip.data.begin() + static_cast<std::ptrdiff_t>((c * h + y) * sw + f * w));
    inrgan::write_png(args.out, strip, 0, generator.display());
  }
  std::fprintf(stderr, "wrote %s (%d frames)\n", args.out.c_str(), frames.batch);
  return 0;
}

int run(const std::vector<std::string>& argv) {
  const auto args = inrgan::cli::parse_render_args(argv);
  if (args.help) {
    std::fputs(inrgan::cli::kUsage, stdout);
    return 0;
  }
  if (args.version) {
    std::printf("inrgan-render %s (backends: openvino %s, tensorrt %s, onnxruntime %s, executorch %s)\n", INRGAN_VERSION,
                inrgan::is_built(inrgan::Backend::OpenVINO) ? "built" : "not built",
                inrgan::is_built(inrgan::Backend::TensorRT) ? "built" : "not built",
                inrgan::is_built(inrgan::Backend::OnnxRuntime) ? "built" : "not built",
                inrgan::is_built(inrgan::Backend::ExecuTorch) ? "built" : "not built");
    return 0;
  }
  // fail on the output before any work
  const std::string ext = lower_extension(args.out);
  if (ext != ".png" && ext != ".npy") throw inrgan::OutputError("output " + args.out + " must end in .png or .npy");
  const fs::path parent = fs::path(args.out).has_parent_path() ? fs::path(args.out).parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) throw inrgan::OutputError("cannot write " + args.out + ": directory " + parent.string() + " does not exist");

  inrgan::Options options;
  options.threads = args.threads;
  options.max_memory = args.max_memory;
  options.allow_failed_parity = args.allow_failed_parity;
  const std::string device = args.device ? *args.device : (args.backend == inrgan::Backend::TensorRT ? "cuda:0" : "CPU");
  auto generator = inrgan::Generator::open(args.bundle, args.backend, device, options);

  if (!args.keyframes.empty()) return render_interpolation(args, generator, ext);

  std::vector<float> z;
  std::vector<std::string> labels;
  if (!args.bank_rows.empty()) {
    // the fitted latents a bundle carries (inrgan_export/core/latent_bank.py); checksummed with the bundle
    const fs::path bank = fs::path(args.bundle) / "latents.npy";
    if (!fs::is_regular_file(bank))
      throw inrgan::UsageError(args.bundle + " has no latent bank; --latent-bank needs a bundle exported from a fitted preset (e.g. demo:photos)");
    int rows = 0;
    const auto all = inrgan::read_latents_npy(bank.string(), generator.z_dim(), &rows);
    const auto width = static_cast<std::size_t>(generator.z_dim());
    for (auto r : args.bank_rows) {
      if (r >= static_cast<unsigned>(rows))
        throw inrgan::InputValueError("--latent-bank index " + std::to_string(r) + " is out of range; " + args.bundle + " has " +
                                      std::to_string(rows) + " latents (0-" + std::to_string(rows - 1) + ")");
      z.insert(z.end(), all.begin() + static_cast<std::ptrdiff_t>(r * width), all.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
      labels.push_back("bank" + padded(r));
    }
  } else if (args.latent) {
    int rows = 0;
    z = inrgan::read_latents_npy(*args.latent, generator.z_dim(), &rows);
    // the --seed limit (as the Python CLI): many latents are render-many's work
    if (rows > 4096)
      throw inrgan::UsageError("latent file " + *args.latent + " has " + std::to_string(rows) +
                               " rows; render takes at most 4096 latents per run (as --seed): split the file, or render large sets with render-many");
    for (int i = 0; i < rows; ++i) labels.push_back(padded(static_cast<unsigned long long>(i)));
  } else {
    for (auto seed : args.seeds) {
      const auto row = inrgan::latent_from_seed(seed, generator.z_dim());
      z.insert(z.end(), row.begin(), row.end());
      labels.push_back("seed" + padded(seed));
    }
  }
  const inrgan::Size size = args.size ? *args.size : generator.native_size();
  inrgan::HypernetInputs extra;
  if (args.truncation) {
    const auto inputs = generator.extra_hypernet_inputs();
    if (std::none_of(inputs.begin(), inputs.end(), [](const auto& e) { return e.name == "truncation_psi"; })) {
      std::string names = "the latent only";
      if (!inputs.empty()) {
        names.clear();
        for (const auto& e : inputs) names += (names.empty() ? "" : ", ") + e.name;
      }
      throw inrgan::UsageError("--truncation: this generator's hypernetwork has no truncation_psi input (its extra inputs: " + names + ")");
    }
    extra["truncation_psi"] = {*args.truncation};
  }
  const inrgan::Images images = generator.generate(z, size, args.window, extra);

  if (ext == ".npy") {
    inrgan::write_npy(args.out, images);
    std::fprintf(stderr, "wrote %s\n", args.out.c_str());
  } else {
    const auto paths = output_paths(args.out, labels);
    for (std::size_t i = 0; i < paths.size(); ++i) {
      inrgan::write_png(paths[i], images, static_cast<int>(i), generator.display());
      std::fprintf(stderr, "wrote %s\n", paths[i].c_str());
    }
  }
  // the rules the bundle's recorded verdicts were reached by (parity.gates, at export); after
  // the output, so that an error stays the only line
  std::string gates;
  for (const auto& gate : generator.parity_gates()) gates += (gates.empty() ? "" : "; ") + gate.path + ": " + gate.description;
  if (!gates.empty()) std::fprintf(stderr, "parity gates (recorded at export): %s\n", gates.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const inrgan::Error& e) {
    std::fprintf(stderr, "inrgan-render: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inrgan-render: internal error: %s\n", e.what());
    return 1;
  }
}
