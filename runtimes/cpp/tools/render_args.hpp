// Command line of inrgan-render, parsed with the same rules and messages as the Python CLI's
// `inrgan-export render` (inrgan_export/cli.py, grid.py, latents.py).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inrgan/inrgan.hpp"

namespace inrgan::cli {

struct RenderArgs {
  std::string bundle;
  std::vector<std::uint32_t> seeds;     // empty with --latent
  std::optional<std::string> latent;    // --latent Z.npy
  std::vector<std::uint32_t> bank_rows; // --latent-bank ROWS: rows of the bundle's latents.npy
  std::optional<Size> size;             // default: the bundle's native size
  Window window;
  Backend backend = Backend::OpenVINO;
  std::optional<std::string> device;    // default: CPU for OpenVINO, cuda:0 for TensorRT
  std::string out;
  int threads = 0;
  std::size_t max_memory = 0;
  std::optional<float> truncation;      // --truncation PSI: the hypernetwork input truncation_psi
  bool allow_failed_parity = false;     // --allow-failed-parity: open a backend whose recorded gate failed
  std::vector<std::string> keyframes;   // --interpolate A,B[,C...]: seeds or bank:N
  int steps = 8;                        // --steps N: frames per keyframe pair, both ends included
  bool help = false;
  bool version = false;
};

// Throws UsageError (or ShapeError for an impossible size) naming the bad value.
RenderArgs parse_render_args(const std::vector<std::string>& argv);

std::vector<std::uint32_t> parse_seeds(const std::string& text);  // "3", "0-7", "1,5,9", "0-3,9"
Size parse_size(const std::string& text);                         // "64" or "96x160" (height x width)
Window parse_window(const std::string& text);                     // "X0,Y0,X1,Y1"
std::size_t parse_bytes(const std::string& text);                 // "512M", "2G", "1.5GiB"
float parse_truncation(const std::string& text);                  // a finite number, "0.7"

extern const char* const kUsage;

}  // namespace inrgan::cli
