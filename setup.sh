#!/usr/bin/env bash
# Set up inrgan-export in ./.venv on a fresh machine.
#   ./setup.sh          what the README's main job needs: the runtime plus the export and
#                       openvino extras
#   ./setup.sh --test   everything the tests need (the test extra)
# torch is pinned (constraints.txt) so that no dependency can resolve a multi-GB CUDA
# build; TensorRT is an optional extra that this script never installs.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
extras="[export,openvino]"
[ "${1:-}" = "--test" ] && extras="[test]"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -c constraints.txt "torch==2.13.0"
"${pip[@]}" install -c constraints.txt ".${extras}"
# a plain (non-editable) install of this checkout, refreshed on every run; setuptools' build/
# folder is removed first, or modules deleted or moved since the last run would ship again
rm -rf build inrgan_export.egg-info
"${pip[@]}" install --no-deps --force-reinstall --no-build-isolation . 2>/dev/null \
  || "${pip[@]}" install --no-deps --force-reinstall .
.venv/bin/python -c "import torch, inrgan_export; print('inrgan-export', inrgan_export.__version__, 'with torch', torch.__version__)"
