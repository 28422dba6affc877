#!/usr/bin/env bash
# CI for the C++ runtime: installs the Debian packages it needs (when missing), builds a
# normal (Release) and a sanitizer (ASan + UBSan, Debug) configuration, runs ctest on both.
# Idempotent: build directories are reused (incremental), packages installed only once.
#
#   runtimes/cpp/ci.sh [PYTHON]      PYTHON (or $INRGAN_PYTHON; default .venv/bin/python):
#                                    the interpreter with inrgan_export and openvino
#
# The tests export demo:tiny once (into runtimes/cpp/build/tiny_onnx, fresh every run) and
# compare against the Python runtime; see tests/runtimes/test_cpp_runtime.py. The ONNX Runtime
# and ExecuTorch backends' tests likewise keep their bundles (ort_bundles, et_bundles) for both
# builds; see tests/runtimes/test_cpp_onnxruntime.py and test_cpp_executorch.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${1:-${INRGAN_PYTHON:-$repo/.venv/bin/python}}"
[ -x "$python" ] || { echo "ci.sh: python '$python' not found; pass the venv's python" >&2; exit 2; }
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
jobs="${INRGAN_BUILD_JOBS:-2}"

# -- Debian packages (compiler, CMake, Ninja, the libraries the runtime links, unshare)
"$here/tools/install-debian-packages.sh" ci.sh

# -- the test bundle: exported by the first test run, reused by the second
build_root="$here/build"
bundle="$build_root/tiny_onnx"
ort_bundles="$build_root/ort_bundles"  # the ONNX Runtime backend's test bundles, likewise
et_bundles="$build_root/et_bundles"    # the ExecuTorch backend's test bundles, likewise
rm -rf "$bundle" "$build_root"/sg2_tiny_*_onnx "$ort_bundles" "$et_bundles"  # the sg2 fixtures are exported next to it
mkdir -p "$build_root"

run_config() {  # name, extra cmake arguments...
  local name="$1"; shift
  local dir="$build_root/$name"
  echo "ci.sh: == $name =="
  # a directory configured earlier with another generator (e.g. Make) cannot switch to Ninja
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^CMAKE_GENERATOR:INTERNAL=Ninja$" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  # tests forced on: a cache left with INRGAN_BUILD_TESTS=OFF must not turn CI into a no-op
  cmake -S "$here" -B "$dir" -G Ninja -DINRGAN_PYTHON="$python" -DINRGAN_TEST_BUNDLE="$bundle" -DINRGAN_TEST_ORT_DIR="$ort_bundles" -DINRGAN_TEST_ET_DIR="$et_bundles" -DINRGAN_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  # the Python-backed suite must be registered (it is the one that renders bundles)
  ctest --test-dir "$dir" -N | grep "python_parity_and_errors" >/dev/null \
    || { echo "ci.sh: $name: test python_parity_and_errors is not registered" >&2; exit 1; }
  # the Release build must also check its install and release archive away from the build
  if [ "$name" = release ]; then
    ctest --test-dir "$dir" -N | grep "install_relocated" >/dev/null \
      || { echo "ci.sh: $name: test install_relocated is not registered" >&2; exit 1; }
  fi
  ctest --test-dir "$dir" --output-on-failure --no-tests=error
}

start=$SECONDS
run_config release -DCMAKE_BUILD_TYPE=Release -DINRGAN_BUNDLE_BACKENDS=ON
run_config asan -DCMAKE_BUILD_TYPE=Debug -DINRGAN_SANITIZE=ON
echo "ci.sh: release and sanitizer builds passed in $((SECONDS - start)) s"
