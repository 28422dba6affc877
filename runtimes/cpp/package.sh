#!/usr/bin/env bash
# Builds the C++ runtime's release archive, from a clone, in one command:
#
#   runtimes/cpp/package.sh [PYTHON]
#   -> runtimes/cpp/build/package/package/inrgan-runtime-<version>-linux-<arch>.tar.gz
#
# The archive is a whole install tree (bin/inrgan-render, bin/inrgan-bench, the library, its
# header and CMake package, the backends' shared libraries in lib/ and their licences in
# share/licenses/) under one top folder: unpack it anywhere and run bin/inrgan-render; it needs
# only the system's libc, libstdc++, libcrypto (OpenSSL 3) and libpng16.
# PYTHON (or $INRGAN_PYTHON; default .venv/bin/python, made with ./setup.sh --test when
# missing) supplies the backends: the openvino, onnxruntime and executorch wheels' libraries.
# Environment: INRGAN_PACKAGE_BUILD (build folder; default runtimes/cpp/build/package),
# INRGAN_PACKAGE_CMAKE_ARGS (more configure arguments, e.g. -DINRGAN_WITH_EXECUTORCH=OFF),
# INRGAN_BUILD_JOBS (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
"$here/tools/install-debian-packages.sh" package.sh

python="${1:-${INRGAN_PYTHON:-}}"
if [ -z "$python" ]; then
  python="$repo/.venv/bin/python"
  if [ ! -x "$python" ]; then
    echo "package.sh: no $python: running ./setup.sh --test (the venv with the backends' wheels)"
    "$repo/setup.sh" --test
  fi
fi
[ -x "$python" ] || { echo "package.sh: python '$python' not found; pass the venv's python" >&2; exit 2; }
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"

build="${INRGAN_PACKAGE_BUILD:-$here/build/package}"
# a folder configured earlier with another generator cannot switch to Ninja
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_GENERATOR:INTERNAL=Ninja$" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
# shellcheck disable=SC2086  # INRGAN_PACKAGE_CMAKE_ARGS is a list of arguments
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DINRGAN_PYTHON="$python" \
  -DINRGAN_BUNDLE_BACKENDS=ON -DINRGAN_BUILD_TESTS=OFF -DINRGAN_BUILD_BENCH=ON -DINRGAN_SANITIZE=OFF \
  ${INRGAN_PACKAGE_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${INRGAN_BUILD_JOBS:-2}"
rm -f "$build"/package/inrgan-runtime-*.tar.gz
cpack --config "$build/CPackConfig.cmake" -B "$build/package" >/dev/null
archive="$(ls "$build"/package/inrgan-runtime-*.tar.gz)"
echo "package.sh: $archive ($(du -h "$archive" | cut -f1))"
