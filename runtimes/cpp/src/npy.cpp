#include "npy.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "inrgan/inrgan.hpp"

namespace inrgan::detail {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

[[noreturn]] void not_plain(const std::string& path, const std::string& why) {
  throw UsageError("latent file " + path + " is not a plain .npy array: " + why);
}

// The value text after 'key': in the header dict, up to the next top-level ',' or '}'.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  std::size_t at = header.find(quoted);
  if (at == std::string::npos) not_plain(path, "header has no '" + key + "'");
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos) not_plain(path, "header entry '" + key + "' has no value");
  std::size_t end = at + 1;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string value = header.substr(at + 1, end - at - 1);
  const auto first = value.find_first_not_of(" ");
  const auto last = value.find_last_not_of(" ");
  return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& path) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') not_plain(path, "shape " + text + " is not a tuple");
  std::vector<std::int64_t> shape;
  std::size_t i = 1;
  while (i < text.size() - 1) {
    while (i < text.size() - 1 && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() - 1) break;
    std::size_t used = 0;
    long long dim = -1;
    try {
      dim = std::stoll(text.substr(i), &used);
    } catch (const std::exception&) {
      not_plain(path, "shape " + text + " is not a tuple of integers");
    }
    if (dim < 0) not_plain(path, "shape " + text + " has a negative dimension");
    shape.push_back(dim);
    i += used;
  }
  return shape;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("latent file " + path + " does not exist or cannot be read");
  const std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < kMagicSize + 4 || std::memcmp(file.data(), kMagic, kMagicSize) != 0)
    not_plain(path, "no .npy magic string");
  const int major = static_cast<unsigned char>(file[6]);
  std::size_t header_len = 0, data_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(file[8]) | static_cast<unsigned char>(file[9]) << 8;
    data_start = 10 + header_len;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) not_plain(path, "truncated header");
    for (int k = 3; k >= 0; --k) header_len = header_len << 8 | static_cast<unsigned char>(file[8 + k]);
    data_start = 12 + header_len;
  } else {
    not_plain(path, "format version " + std::to_string(major) + " is not 1, 2 or 3");
  }
  if (data_start > file.size()) not_plain(path, "truncated header");
  const std::string header(file.data() + (data_start - header_len), header_len);

  NpyArray arr;
  std::string descr = dict_value(header, "descr", path);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"')) not_plain(path, "dtype " + descr + " is not a plain type");
  arr.descr = descr.substr(1, descr.size() - 2);
  const std::string order = dict_value(header, "fortran_order", path);
  if (order != "True" && order != "False") not_plain(path, "fortran_order " + order + " is not True or False");
  arr.fortran_order = order == "True";
  arr.shape = parse_shape(dict_value(header, "shape", path), path);

  if (arr.descr.size() < 3 || arr.descr.find('O') != std::string::npos)
    not_plain(path, "dtype '" + arr.descr + "' needs pickle, which is never loaded");
  arr.bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(data_start), file.end());
  // sizes of other kinds (strings, records) are the caller's concern: it refuses their dtype
  if (std::string("fiubc").find(arr.descr[1]) == std::string::npos) return arr;
  std::size_t item = 0;
  try {
    item = std::stoul(arr.descr.substr(2));
  } catch (const std::exception&) {
    not_plain(path, "dtype '" + arr.descr + "' is not a plain numeric type");
  }
  std::uint64_t count = 1;
  for (auto d : arr.shape) {
    if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(d))
      not_plain(path, "shape is too large");
    count *= static_cast<std::uint64_t>(d);
  }
  const std::size_t stored = arr.bytes.size();
  if (item == 0 || count > stored / item || stored != count * item)
    not_plain(path, "data size " + std::to_string(stored) + " bytes does not match its header");
  return arr;
}

std::string npy_header(const std::string& descr, const std::vector<std::int64_t>& shape) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.erase(dims.size() - 2);  // numpy writes "(3,)" for one dim
  else if (!shape.empty()) dims.erase(dims.size() - 1);
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // pad with spaces and a final newline so the data starts at a multiple of 64 bytes
  const std::size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

}  // namespace inrgan::detail
