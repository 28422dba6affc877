// What a bundle may make a runtime open (as inrgan_export/core/bundle.py): every path stays inside
// the bundle directory once symlinks are resolved, and every graph file is listed in the
// manifest's "files" (so its SHA-256 was checked when the bundle was opened). Messages name
// the manifest's relative path only, never anything outside the bundle.
#pragma once

#include <filesystem>
#include <set>
#include <string>

namespace inrgan::detail {

// dir / rel with symlinks resolved; BundleError unless it stays inside dir.
std::filesystem::path confined_path(const std::filesystem::path& dir, const std::string& rel, const std::string& field);

// BundleError unless rel is one of the listed files.
void require_listed(const std::set<std::string>& listed, const std::string& rel, const std::string& field);

}  // namespace inrgan::detail
