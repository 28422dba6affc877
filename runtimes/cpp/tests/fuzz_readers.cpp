// Bounded random-input harness for the manifest and .npy readers: mutates valid inputs with a
// fixed seed and checks that every reader call either succeeds or throws inrgan::Error (the
// library's one-line, exit-code-carrying error). Anything else (another exception type, a
// crash, a sanitizer report under the ASan/UBSan build) fails the test.
//
//   fuzz-readers SEED_MANIFEST [ITERATIONS]
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <typeinfo>
#include <unistd.h>
#include <vector>

#include "inrgan/inrgan.hpp"
#include "manifest.hpp"
#include "npy.hpp"

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// 1-4 mutations: bit flips, interesting bytes, huge integers as text or binary, insertions
// of JSON/npy punctuation, deletions, truncation, duplicated runs.
std::string mutate(std::string data, std::mt19937_64& rng) {
  static const char* tokens[] = {"[", "]", "{", "}", "\"", ",", ":", "-1", "0", "1e309", "99999999999999999999", "null",
                                 "true", "(", ")", "'", "\\", "\\u0000", "4294967296", "9223372036854775807"};
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < n; ++k) {
    if (data.empty()) data = "{";
    const std::size_t pos = rng() % data.size();
    switch (rng() % 8) {
      case 0: data[pos] = static_cast<char>(data[pos] ^ (1 << (rng() % 8))); break;
      case 1: data[pos] = "\x00\x01\x7f\x80\xff"[rng() % 5]; break;
      case 2: data.insert(pos, tokens[rng() % (sizeof(tokens) / sizeof(*tokens))]); break;
      case 3: data.erase(pos, 1 + rng() % 64); break;
      case 4: data.resize(pos); break;
      case 5: data.insert(pos, data.substr(pos, 1 + rng() % 128)); break;
      case 6: {  // a binary 32-bit length
        const std::uint32_t v = rng() % 2 ? 0xffffffffu : static_cast<std::uint32_t>(rng());
        data.replace(pos, std::min<std::size_t>(4, data.size() - pos), reinterpret_cast<const char*>(&v), 4);
        break;
      }
      default: data.insert(pos, std::string(1 + rng() % 200, "[{("[rng() % 3])); break;
    }
  }
  return data;
}

std::string npy_seed(const std::string& descr, const std::string& shape, std::size_t bytes) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(bytes, '\x00');
  return out;
}

struct Tally {
  long ok = 0, refused = 0, multiline = 0;
};

// Runs `call`; counts success or inrgan::Error; returns false on any other exception.
template <class F>
bool outcome(F&& call, Tally& t, const std::string& what, const std::string& input) {
  try {
    call();
    ++t.ok;
  } catch (const inrgan::Error& e) {
    if (e.exit_code() != 2) {
      std::fprintf(stderr, "%s: refused with exit code %d (bad input is 2): %s\n", what.c_str(), e.exit_code(), e.what());
      return false;
    }
    if (std::strchr(e.what(), '\n') != nullptr && t.multiline++ == 0)  // reported, not (yet) a failure
      std::fprintf(stderr, "note: %s: a multi-line message: %.300s\n", what.c_str(), e.what());
    ++t.refused;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: escaped as %s: %s\ninput (%zu bytes): %.400s\n", what.c_str(), typeid(e).name(), e.what(), input.size(),
                 input.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz-readers SEED_MANIFEST [ITERATIONS]\n");
    return 2;
  }
  const long iterations = argc > 2 ? std::stol(argv[2]) : 1500;
  const fs::path dir = fs::temp_directory_path() / ("inrgan_fuzz_" + std::to_string(::getpid()));
  const fs::path bundle = dir / "bundle";
  fs::create_directories(bundle);
  for (const char* name : {"generator.onnx", "golden.npz", "hypernet.onnx", "inr.onnx", "parity.json", "parity.md", "parity.png"})
    write_bytes(bundle / name, "placeholder");
  const std::string manifest_seed = read_text(argv[1]);
  const std::vector<std::string> npy_seeds = {npy_seed("<f4", "(3, 16)", 3 * 16 * 4), npy_seed("<f8", "(16,)", 16 * 8),
                                              npy_seed(">f4", "(1, 16)", 16 * 4)};
  std::mt19937_64 rng(19);
  Tally manifests, latents;
  bool good = true;

  write_bytes(bundle / "manifest.json", manifest_seed);  // the seed itself must read
  good &= outcome([&] { inrgan::detail::read_manifest(bundle.string(), false); }, manifests, "seed manifest", manifest_seed);
  if (manifests.ok != 1) {
    std::fprintf(stderr, "the seed manifest %s does not read\n", argv[1]);
    return 1;
  }
  for (long i = 0; i < iterations && good; ++i) {
    const std::string m = mutate(manifest_seed, rng);
    write_bytes(bundle / "manifest.json", m);
    good &= outcome([&] { inrgan::detail::read_manifest(bundle.string(), i % 4 == 0); }, manifests, "manifest #" + std::to_string(i), m);

    const std::string& seed = npy_seeds[static_cast<std::size_t>(i) % npy_seeds.size()];
    const std::string z = i % 10 == 0 ? seed : mutate(seed, rng);
    const fs::path zpath = dir / "z.npy";
    write_bytes(zpath, z);
    good &= outcome([&] { inrgan::read_latents_npy(zpath.string(), 16); }, latents, "npy #" + std::to_string(i), z);
  }
  fs::remove_all(dir);
  std::fprintf(stderr, "manifests: %ld read, %ld refused (%ld multi-line); npy: %ld read, %ld refused (%ld multi-line)\n", manifests.ok,
               manifests.refused, manifests.multiline, latents.ok, latents.refused, latents.multiline);
  // not vacuous: both outcomes occur for both readers
  if (good && (manifests.ok < 2 || manifests.refused < 1 || latents.ok < 1 || latents.refused < 1)) {
    std::fprintf(stderr, "the mutations never reached one of the outcomes\n");
    return 1;
  }
  return good ? 0 : 1;
}
