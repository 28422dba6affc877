// Output files: raw .npy and display-mapped PNG (libpng's simplified write API).
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "atomic_file.hpp"
#include "inrgan/inrgan.hpp"
#include "npy.hpp"

namespace inrgan {

void write_npy(const std::string& path, const Images& images) {
  const std::string header = detail::npy_header("<f4", {images.batch, 3, images.height, images.width});
  detail::write_atomically(path, [&](std::FILE* f) {
    // float32 in host order: this runtime supports little-endian hosts only ('<f4')
    std::fwrite(header.data(), 1, header.size(), f);
    std::fwrite(images.data.data(), sizeof(float), images.data.size(), f);
  });
}

namespace {

// uint8(rint(clip(x, lo, hi) * scale + offset)) in float64, round half to even
// (std::nearbyint in the default rounding mode), as numpy.rint in imageio.to_uint8.
std::uint8_t display_value(float x, const DisplayMapping& d) {
  if (std::isnan(x)) return 0;
  const double v = std::nearbyint(std::clamp(static_cast<double>(x), d.clamp_lo, d.clamp_hi) * d.scale + d.offset);
  return static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
}

}  // namespace

void write_png(const std::string& path, const Images& images, int index, const DisplayMapping& display) {
  if (index < 0 || index >= images.batch)
    throw ShapeError("image index " + std::to_string(index) + " is outside the batch of " + std::to_string(images.batch));
  const auto h = static_cast<std::size_t>(images.height), w = static_cast<std::size_t>(images.width);
  const float* planes = images.data.data() + static_cast<std::size_t>(index) * 3 * h * w;
  std::vector<std::uint8_t> rgb(h * w * 3);  // [H, W, 3] from [3, H, W]
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t p = 0; p < h * w; ++p) rgb[p * 3 + c] = display_value(planes[c * h * w + p], display);

  detail::write_atomically(path, [&](std::FILE* f) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(w);
    image.height = static_cast<png_uint_32>(h);
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&image, f, 0, rgb.data(), 0, nullptr)) {
      const std::string why = image.message;
      png_image_free(&image);
      throw OutputError("cannot write " + path + ": libpng: " + why);
    }
  });
}

}  // namespace inrgan
