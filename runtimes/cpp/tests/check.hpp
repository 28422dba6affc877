// A minimal test harness for the C++ unit tests (no third-party test framework needed):
// CHECK(cond) records a failure and continues; main() returns non-zero when any failed.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace inrgan_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline std::vector<std::pair<std::string, std::function<void()>>>& cases() {
  static std::vector<std::pair<std::string, std::function<void()>>> all;
  return all;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { cases().emplace_back(name, std::move(fn)); }
};

inline int run_all() {
  if (cases().empty()) {  // a harness that ran nothing must not pass
    std::fprintf(stderr, "FAIL no test case registered\n");
    return 1;
  }
  for (const auto& [name, fn] : cases()) {
    const int before = failures();
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: unexpected exception: %s\n", name.c_str(), e.what());
      ++failures();
    }
    std::fprintf(stderr, "%s %s\n", failures() == before ? "ok  " : "FAIL", name.c_str());
  }
  return failures() == 0 ? 0 : 1;
}

}  // namespace inrgan_test

#define INRGAN_CAT2(a, b) a##b
#define INRGAN_CAT(a, b) INRGAN_CAT2(a, b)
#define TEST_CASE(name)                                                                      \
  static void INRGAN_CAT(test_, name)();                                                     \
  static const inrgan_test::Register INRGAN_CAT(register_, name)(#name, INRGAN_CAT(test_, name)); \
  static void INRGAN_CAT(test_, name)()

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++inrgan_test::failures();                                                     \
    }                                                                                \
  } while (0)

// CHECK_THROWS(ErrorType, expression, "text the message must contain")
#define CHECK_THROWS(type, expr, needle)                                                                   \
  do {                                                                                                     \
    bool caught_ = false;                                                                                  \
    try {                                                                                                  \
      (void)(expr);                                                                                        \
    } catch (const type& e_) {                                                                             \
      caught_ = true;                                                                                      \
      if (std::string(e_.what()).find(needle) == std::string::npos) {                                      \
        std::fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, e_.what(), needle); \
        ++inrgan_test::failures();                                                                         \
      }                                                                                                    \
    }                                                                                                      \
    if (!caught_) {                                                                                        \
      std::fprintf(stderr, "%s:%d: %s did not throw %s\n", __FILE__, __LINE__, #expr, #type);              \
      ++inrgan_test::failures();                                                                           \
    }                                                                                                      \
  } while (0)

#define TEST_MAIN() \
  int main() { return inrgan_test::run_all(); }
