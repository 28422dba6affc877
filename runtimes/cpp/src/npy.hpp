// The .npy format (NEP 1): a magic string, a Python-literal header dict and the raw data.
// Only plain numeric arrays are read; anything else (object arrays, pickles) is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace inrgan::detail {

struct NpyArray {
  std::string descr;             // e.g. "<f4"
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  std::vector<char> bytes;       // the data exactly as stored
};

// Throws UsageError when the file is missing or not a plain .npy array.
NpyArray read_npy(const std::string& path);

// The header of a version 1.0 .npy file for data of `descr` ("<f4", "<i4") and `shape`.
std::string npy_header(const std::string& descr, const std::vector<std::int64_t>& shape);

}  // namespace inrgan::detail
