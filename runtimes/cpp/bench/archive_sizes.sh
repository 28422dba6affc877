#!/usr/bin/env bash
# Measures the release archive's size per backend: builds it (package.sh) with every backend
# that is found and with each backend alone, and writes the sizes -- the archive's bytes, its
# unpacked bytes, the bundled libraries' bytes per backend (share/inrgan/bundled-libraries.txt)
# -- with the machine and versions to OUT (default benchmarks/results/cpp_archive_sizes.txt).
#
#   runtimes/cpp/bench/archive_sizes.sh [PYTHON] [OUT]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
out="${2:-$repo/benchmarks/results/cpp_archive_sizes.txt}"
configs=(
  "all|"
  "onnxruntime|-DINRGAN_WITH_OPENVINO=OFF -DINRGAN_WITH_ONNXRUNTIME=ON -DINRGAN_WITH_EXECUTORCH=OFF"
  "openvino|-DINRGAN_WITH_OPENVINO=ON -DINRGAN_WITH_ONNXRUNTIME=OFF -DINRGAN_WITH_EXECUTORCH=OFF"
  "executorch|-DINRGAN_WITH_OPENVINO=OFF -DINRGAN_WITH_ONNXRUNTIME=OFF -DINRGAN_WITH_EXECUTORCH=ON"
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
{
  echo "# inrgan C++ runtime release archive sizes (runtimes/cpp/bench/archive_sizes.sh)"
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "compiler: $(c++ --version | head -1); cmake: $(cmake --version | head -1)"
  echo "wheels: $("$python" -c 'import importlib.metadata as m; print(", ".join(f"{d} {m.version(d)}" for d in ("openvino", "onnxruntime", "executorch")))')"
  echo "columns: config | archive bytes | unpacked bytes | bundled library bytes per backend | archive file"
} > "$tmp/report"
for entry in "${configs[@]}"; do
  name="${entry%%|*}"
  args="${entry#*|}"
  build="$here/build/package"
  [ "$name" = all ] || build="$here/build/package-$name"
  INRGAN_PACKAGE_BUILD="$build" INRGAN_PACKAGE_CMAKE_ARGS="$args" "$here/package.sh" "$python" >"$tmp/$name.log" 2>&1 \
    || { cat "$tmp/$name.log" >&2; exit 1; }
  archive="$(ls "$build"/package/inrgan-runtime-*.tar.gz)"
  mkdir -p "$tmp/x-$name"
  tar -xzf "$archive" -C "$tmp/x-$name"
  top="$(ls -d "$tmp/x-$name"/*)"
  libs="$(cd "$top/lib" && while read -r backend file; do
            [ -L "$file" ] || echo "$backend $(stat -c %s "$file")"; done < "$top/share/inrgan/bundled-libraries.txt" \
          | awk '{s[$1]+=$2} END {for (b in s) printf "%s=%d ", b, s[b]}')"
  echo "$name | $(stat -c %s "$archive") | $(du -sb "$top" | cut -f1) | ${libs:-none} | $(basename "$archive")" >> "$tmp/report"
  echo "  $("$top/bin/inrgan-render" --version)" >> "$tmp/report"
done
mkdir -p "$(dirname "$out")"
cp "$tmp/report" "$out"
cat "$out"
