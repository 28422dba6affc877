// "[2, 7]": shapes in error messages, written as the Python side writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace inrgan::detail {

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace inrgan::detail
