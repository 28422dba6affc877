// Outputs are written to a temporary sibling and renamed when complete, so a failure never
// leaves a half-written file behind (as inrgan_export/core/imageio.py does).
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace inrgan::detail {

// Calls `write` with an open temporary file next to `path`, then renames it to `path`.
// Throws OutputError naming the path when the directory is missing or unwritable.
void write_atomically(const std::string& path, const std::function<void(std::FILE*)>& write);

}  // namespace inrgan::detail
