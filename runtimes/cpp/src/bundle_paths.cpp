#include "bundle_paths.hpp"

#include <system_error>

#include "inrgan/inrgan.hpp"

namespace fs = std::filesystem;

namespace inrgan::detail {

namespace {

bool within(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

}  // namespace

fs::path confined_path(const fs::path& dir, const std::string& rel, const std::string& field) {
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(dir, ec);
  const fs::path target = ec ? fs::path() : fs::weakly_canonical(dir / fs::path(rel), ec);
  if (ec || !within(root, target))
    throw BundleError("bundle path '" + rel + "' (field '" + field +
                      "') leaves the bundle (absolute, '..' or a symlink out); refused");
  return target;
}

void require_listed(const std::set<std::string>& listed, const std::string& rel, const std::string& field) {
  if (!listed.count(rel))
    throw BundleError("graph file '" + rel + "' (field '" + field +
                      "') is not listed in field 'files', so its checksum cannot be checked; refused (re-export the bundle)");
}

}  // namespace inrgan::detail
