#!/usr/bin/env bash
# Installs the Debian packages the C++ runtime's build, tests and packaging need, when missing:
# compiler, CMake, Ninja, the three libraries the runtime links (nlohmann-json, libcrypto,
# libpng), and util-linux (unshare: the install test hides the venv with it).
#   tools/install-debian-packages.sh NAME     NAME: who asks (prefixes the messages)
set -euo pipefail
who="${1:-install-debian-packages.sh}"
packages=(g++ cmake ninja-build nlohmann-json3-dev libssl-dev libpng-dev util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "$who: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi
