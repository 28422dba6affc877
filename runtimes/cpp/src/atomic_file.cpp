#include "atomic_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "inrgan/inrgan.hpp"

namespace inrgan::detail {

namespace fs = std::filesystem;

void write_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  const fs::path target(path);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) throw OutputError("cannot write " + path + ": directory " + parent.string() + " does not exist");
  std::string pattern = (parent / ("." + target.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) throw OutputError("cannot write " + path + ": " + std::strerror(errno));
  const std::string tmp(name.data());
  std::FILE* file = fdopen(fd, "wb");
  if (!file) {
    close(fd);
    unlink(tmp.c_str());
    throw OutputError("cannot write " + path + ": " + std::strerror(errno));
  }
  try {
    write(file);
    if (std::fflush(file) != 0 || std::ferror(file)) throw OutputError("cannot write " + path + ": " + std::strerror(errno));
  } catch (...) {
    std::fclose(file);
    unlink(tmp.c_str());
    throw;
  }
  std::fclose(file);
  const mode_t mask = umask(0);
  umask(mask);
  chmod(tmp.c_str(), 0666 & ~mask);  // mkstemp makes it private; publish with normal permissions
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    throw OutputError("cannot write " + path + ": " + why);
  }
}

}  // namespace inrgan::detail
