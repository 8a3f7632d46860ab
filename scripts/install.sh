#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: CPU-only torch first,
# then the project in editable mode with its dev extra.  Safe to run again; works on
# Linux and macOS laptops, in Codespaces and in CI.
#
#   KATA_PYTHON=python3.12 scripts/install.sh         choose the interpreter (>= 3.11)
#   KATA_TORCH_INDEX=https://download.pytorch.org/whl/cpu scripts/install.sh
#                                                      take torch from the CPU wheel index
#                                                      (on Linux, PyPI's torch is a CUDA build)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${KATA_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: $python is missing or older than 3.11; set KATA_PYTHON to a Python >= 3.11" >&2
  exit 2
fi
torch_version=$(sed -n 's/^ *"torch==\([^"]*\)",*$/\1/p' pyproject.toml)

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
  echo "install.sh: installing torch==$torch_version (CPU build)"
  "${pip[@]}" install ${KATA_TORCH_INDEX:+--index-url "$KATA_TORCH_INDEX"} "torch==$torch_version"
fi
echo "install.sh: installing ml-debug-katas with its dev extra"
"${pip[@]}" install -e '.[dev]'
echo "install.sh: ready — try .venv/bin/kata list"
