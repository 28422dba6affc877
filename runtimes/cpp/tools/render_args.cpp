#include "render_args.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace inrgan::cli {

const char* const kUsage =
    "usage: inrgan-render BUNDLE [--seed S | --latent Z.npy | --latent-bank ROWS] [--size HxW] [--window X0,Y0,X1,Y1]\n"
    "                     [--backend openvino|tensorrt|onnxruntime|executorch] [--device CPU] [--threads N] [--max-memory BYTES]\n"
    "                     [--truncation PSI] -o OUT.png|OUT.npy\n"
    "                     [--allow-failed-parity] [--interpolate A,B[,C...] [--steps N]]\n"
    "\n"
    "Render images from an inrgan-export bundle.\n"
    "\n"
    "  --seed S          3, 0-7 or 1,5,9: seed s is numpy RandomState(s).randn(1, z_dim) (default 0)\n"
    "  --latent Z.npy    float32 latents [N, z_dim]\n"
    "  --latent-bank ROWS  3, 0-7 or 1,5: rows of the bundle's fitted latent bank (latents.npy; demo:photos)\n"
    "  --size HxW        output size, or N for NxN (default: the native size)\n"
    "  --window X0,Y0,X1,Y1  region in native-image units (default 0,0,1,1)\n"
    "  --backend B       openvino (default), tensorrt, onnxruntime or executorch\n"
    "  --device D        backend device (default CPU for openvino, onnxruntime and executorch, cuda:0 for tensorrt)\n"
    "  --threads N       CPU threads for the backend (default: the backend's choice)\n"
    "  --max-memory B    activation budget of one INR run; larger renders are tiled (default 40% of RAM, at most 4G)\n"
    "  --truncation PSI  truncation psi for generators whose hypernetwork takes truncation_psi (default: its neutral value, 1)\n"
    "  --allow-failed-parity  render through a backend whose recorded parity or INT8 gate failed (refused by default, exit 4)\n"
    "  --interpolate A,B[,C...]  keyframes (seeds or bank:N) blended in theta space; OUT.npy: the frames [N,3,H,W],\n"
    "                    OUT.png: a strip of the frames side by side\n"
    "  --steps N         frames per keyframe pair, both ends included (t = k/(N-1); default 8, at most 4096)\n"
    "  -o OUT            OUT.png (one file per image, OUT-seed0003.png when several) or OUT.npy (raw [N,3,H,W])\n"
    "\n"
    "Exit codes: 0 ok, 2 bad input or usage, 3 backend unavailable here, 4 the bundle's recorded gate failed for the\n"
    "backend, 1 anything else.\n";

namespace {

constexpr std::uint64_t kMaxSeed = 4294967295ull;
constexpr std::size_t kMaxSeeds = 4096;

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// A whole-string integer (optional sign, digits), as Python's int() for plain text.
bool parse_int(const std::string& text, long long* value) {
  const std::string t = trimmed(text);
  if (t.empty()) return false;
  std::size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) return false;
  for (std::size_t k = i; k < t.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(t[k]))) return false;
  errno = 0;
  const long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *value = v;
  return true;
}

bool parse_double(const std::string& text, double* value) {
  const std::string t = trimmed(text);
  if (t.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size();
}

std::string python_g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::vector<std::uint32_t> parse_seeds(const std::string& text) {
  const std::string bad = "seed list '" + text + "' is not N, A-B or N,M,... (e.g. 3, 0-7, 1,5,9)";
  std::vector<long long> seeds;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string part = trimmed(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    const std::size_t dash = part.size() > 1 ? part.find('-', 1) : std::string::npos;
    long long lo = 0, hi = 0;
    if (dash != std::string::npos) {
      if (!parse_int(part.substr(0, dash), &lo) || !parse_int(part.substr(dash + 1), &hi) || hi < lo) throw UsageError(bad);
      if (hi - lo >= static_cast<long long>(kMaxSeeds)) throw UsageError("seed list '" + text + "' names more than " + std::to_string(kMaxSeeds) + " seeds");
      for (long long s = lo; s <= hi; ++s) seeds.push_back(s);
    } else {
      if (!parse_int(part, &lo)) throw UsageError(bad);
      seeds.push_back(lo);
    }
    if (seeds.size() > kMaxSeeds) throw UsageError("seed list '" + text + "' names more than " + std::to_string(kMaxSeeds) + " seeds");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<std::uint32_t> out;
  for (long long s : seeds) {
    if (s < 0 || static_cast<unsigned long long>(s) > kMaxSeed)
      throw UsageError("seed " + std::to_string(s) + " is out of range: seeds are integers in 0.." + std::to_string(kMaxSeed));
    out.push_back(static_cast<std::uint32_t>(s));
  }
  return out;
}

Size parse_size(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t at; (at = t.find("\xc3\x97")) != std::string::npos;) t.replace(at, 2, "x");  // "×"
  const std::size_t x = t.find('x');
  long long h = 0, w = 0;
  const bool ok = x == std::string::npos ? (parse_int(t, &h) && (w = h, true))
                                         : (t.find('x', x + 1) == std::string::npos && parse_int(t.substr(0, x), &h) && parse_int(t.substr(x + 1), &w));
  if (!ok) throw UsageError("size '" + text + "' is not HxW or N (e.g. 256x256, 96x160, 64)");
  if (h < 1 || h > 65536 || w < 1 || w > 65536)
    throw ShapeError("size " + text + " is impossible: height and width must be in 1..65536");
  return {static_cast<int>(h), static_cast<int>(w)};
}

Window parse_window(const std::string& text) {
  std::vector<double> values;
  std::size_t start = 0;
  bool ok = true;
  while (ok) {
    const std::size_t comma = text.find(',', start);
    double v = 0;
    ok = parse_double(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start), &v);
    values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!ok || values.size() != 4) throw UsageError("window '" + text + "' is not X0,Y0,X1,Y1 (e.g. 0.25,0.25,0.75,0.75)");
  std::string shown;
  for (double v : values) shown += (shown.empty() ? "" : ",") + python_g(v);
  for (double v : values) {
    // beyond float32's range a value would become Inf in the grid arithmetic
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max())
      throw UsageError("window " + shown + " has a non-finite value");
  }
  // parsed as float64 and rounded to float32, as grid.py's F32(window value)
  const Window w{static_cast<float>(values[0]), static_cast<float>(values[1]), static_cast<float>(values[2]), static_cast<float>(values[3])};
  if (!(w.x1 > w.x0 && w.y1 > w.y0))
    throw UsageError("window " + shown + " is empty: need x1 > x0 and y1 > y0 (e.g. 0.25,0.25,0.75,0.75)");
  return w;
}

std::size_t parse_bytes(const std::string& text) {
  std::string t;
  for (char c : trimmed(text)) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.size() >= 2 && t.compare(t.size() - 2, 2, "ib") == 0) t.erase(t.size() - 2);
  if (!t.empty() && t.back() == 'b') t.pop_back();
  double mult = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'k': mult = 1024.0; break;
      case 'm': mult = 1024.0 * 1024; break;
      case 'g': mult = 1024.0 * 1024 * 1024; break;
      case 't': mult = 1024.0 * 1024 * 1024 * 1024; break;
      default: break;
    }
    if (mult != 1) t.pop_back();
  }
  double v = 0;
  if (!parse_double(t, &v)) throw UsageError("memory budget '" + text + "' is not a size (e.g. 512M, 2G)");
  v *= mult;
  if (!std::isfinite(v) || v < 1024.0 * 1024 || v > 9.0e18) throw UsageError("memory budget '" + text + "' is too small: at least 1M");
  return static_cast<std::size_t>(v);
}

float parse_truncation(const std::string& text) {
  double v = 0;
  if (!parse_double(trimmed(text), &v) || !std::isfinite(v) || std::fabs(v) > 3.0e38)
    throw UsageError("--truncation '" + text + "' is not a finite number (e.g. 0.7; 1 = no truncation)");
  return static_cast<float>(v);
}

RenderArgs parse_render_args(const std::vector<std::string>& argv) {
  RenderArgs args;
  std::optional<std::string> seed_text;
  std::optional<std::string> bank_text;
  bool steps_given = false;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argv.size()) throw UsageError("inrgan-render: argument " + arg + ": expected one argument");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") args.help = true;
    else if (arg == "--version") args.version = true;
    else if (arg == "--seed") seed_text = value();
    else if (arg == "--latent") args.latent = value();
    else if (arg == "--latent-bank") bank_text = value();
    else if (arg == "--size") args.size = parse_size(value());
    else if (arg == "--window") args.window = parse_window(value());
    else if (arg == "--backend") args.backend = parse_backend(value());
    else if (arg == "--device") args.device = value();
    else if (arg == "-o" || arg == "--out") args.out = value();
    else if (arg == "--max-memory") args.max_memory = parse_bytes(value());
    else if (arg == "--truncation") args.truncation = parse_truncation(value());
    else if (arg == "--allow-failed-parity") {
      if (inline_value) throw UsageError("inrgan-render: argument --allow-failed-parity: ignored explicit argument '" + *inline_value + "'");
      args.allow_failed_parity = true;
    }
    else if (arg == "--interpolate") {
      const std::string text = value();
      std::size_t start = 0;
      while (true) {
        const std::size_t comma = text.find(',', start);
        args.keyframes.push_back(trimmed(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      bool empty = false;
      for (const auto& k : args.keyframes) empty = empty || k.empty();
      if (args.keyframes.size() < 2 || args.keyframes.size() > 64 || empty)
        throw UsageError("--interpolate '" + text + "' needs 2..64 keyframes A,B[,C...] (seeds, bank:N or FILE.npy:N)");
    } else if (arg == "--steps") {
      const std::string text = value();
      long long n = 0;
      if (!parse_int(text, &n)) throw UsageError("inrgan-render: argument --steps: invalid int value: '" + text + "'");
      if (n < 1 || n > 4096) throw UsageError("--steps " + std::to_string(n) + " must be an integer in 1..4096");
      args.steps = static_cast<int>(n);
      steps_given = true;
    }
    else if (arg == "--threads") {
      const std::string text = value();
      long long n = 0;
      if (!parse_int(text, &n) || n < 1 || n > 4096) throw UsageError("'" + text + "' is not a positive integer");
      args.threads = static_cast<int>(n);
    } else if (arg.size() > 1 && arg[0] == '-') throw UsageError("inrgan-render: unrecognized argument " + argv[i] + " (see --help)");
    else positional.push_back(arg);
  }
  if (args.help || args.version) return args;
  if (positional.size() != 1)
    throw UsageError(positional.empty() ? "inrgan-render: the following arguments are required: BUNDLE"
                                        : "inrgan-render: unrecognized arguments: " + positional[1]);
  args.bundle = positional[0];
  if (args.out.empty()) throw UsageError("inrgan-render: the following arguments are required: -o/--out");
  if (steps_given && args.keyframes.empty()) throw UsageError("--steps needs --interpolate A,B");
  if (!args.keyframes.empty() && (seed_text || args.latent || bank_text))
    throw UsageError("--interpolate names its own keyframes; drop --seed/--latent/--latent-bank (use 3, bank:3 or FILE.npy:3 in the list)");
  if (seed_text && args.latent) throw UsageError("inrgan-render: argument --latent: not allowed with argument --seed");
  if (bank_text && (seed_text || args.latent))
    throw UsageError(std::string("inrgan-render: argument --latent-bank: not allowed with argument ") + (seed_text ? "--seed" : "--latent"));
  if (bank_text) {
    try {
      args.bank_rows = parse_seeds(*bank_text);
    } catch (const UsageError&) {
      throw UsageError("--latent-bank '" + *bank_text + "' is not an index list; expected e.g. 3, 0-7 or 1,5");
    }
    return args;
  }
  if (!args.latent) args.seeds = seed_text ? parse_seeds(*seed_text) : std::vector<std::uint32_t>{0};
  return args;
}

}  // namespace inrgan::cli
