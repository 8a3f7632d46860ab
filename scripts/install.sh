#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: CPU-only torch first,
# then the project in editable mode with its dev extra.  Safe to run again; works on
# Linux and macOS laptops, in Codespaces (the dev container's updateContentCommand) and in
# CI.  tests/test_install.py runs it in a fresh copy of the repository.
#
#   bash scripts/install.sh [--hooks]
#     --hooks        also install the git pre-commit hooks (ruff check and format on commit)
#   KATA_PYTHON=python3.12 bash scripts/install.sh     choose the interpreter (>= 3.11)
#   KATA_TORCH_INDEX=https://download.pytorch.org/whl/cpu bash scripts/install.sh
#                  take torch from the CPU wheel index (on Linux, PyPI's torch is a CUDA
#                  build of several GB; the dev container sets this)
set -euo pipefail
cd "$(dirname "$0")/.."

hooks=0
for arg in "$@"; do
  case "$arg" in
    --hooks) hooks=1 ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

python=${KATA_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: $python is missing or older than 3.11; set KATA_PYTHON to a Python >= 3.11" >&2
  exit 2
fi
# The exact pin from pyproject.toml: a range could resolve to a newer torch, and on Linux
# PyPI serves that as a multi-GB CUDA build.
torch_version=$(sed -n 's/^ *"torch==\([0-9][0-9.]*\)".*/\1/p' pyproject.toml)
if [ -z "$torch_version" ]; then
  echo "install.sh: pyproject.toml must pin torch exactly (\"torch==X.Y.Z\")" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv; then
    echo "install.sh: could not create .venv; on Debian/Ubuntu install the venv module" \
      "(e.g. apt install python3-venv), then run this again" >&2
    exit 1
  fi
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
installed=$(.venv/bin/python -c 'from importlib.metadata import version
try:
    print(version("torch").split("+")[0])
except Exception:
    pass')
if [ "$installed" != "$torch_version" ]; then
  echo "install.sh: installing torch==$torch_version${KATA_TORCH_INDEX:+ from $KATA_TORCH_INDEX}"
  "${pip[@]}" install ${KATA_TORCH_INDEX:+--index-url "$KATA_TORCH_INDEX"} "torch==$torch_version"
fi
echo "install.sh: installing ml-debug-katas with its dev extra"
"${pip[@]}" install -e '.[dev]'
# pip compiles what it installs, but not an editable project: do it now, so the first
# `kata` command is as fast as the next ones.
.venv/bin/python -m compileall -q grader >/dev/null || true

if [ "$hooks" = 1 ]; then
  if git rev-parse --git-dir >/dev/null 2>&1; then
    .venv/bin/pre-commit install
  else
    echo "install.sh: not a git repository: skipped the pre-commit hooks" >&2
  fi
fi
echo "install.sh: ready — try .venv/bin/kata list"
