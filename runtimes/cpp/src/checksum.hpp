// SHA-256 of a file through OpenSSL's libcrypto (EVP interface).
#pragma once

#include <string>

namespace inrgan::detail {

// Lower-case hex digest; throws BundleError if the file cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace inrgan::detail
