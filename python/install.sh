#!/usr/bin/env bash
# Installs the Python package afsim (docs/python.md) into .venv, a virtual
# environment in the repository root made from Debian's /usr/bin/python3
# with its site packages visible (NumPy, h5py, matplotlib from apt). Safe
# to run again: the environment is kept, packages already there are not
# fetched again, and the build folder (build-py/) is reused, so that a
# rerun after an edit recompiles only what changed.
#
#   bash python/install.sh            # CPU backend
#   bash python/install.sh --cuda     # with the CUDA backend (needs nvcc and cuDNN)
#   bash python/install.sh --test     # then run tests/python with pytest
#
# The package is built with --no-build-isolation: pip builds against the
# environment's own scikit-build-core and NumPy (the NumPy the module then
# imports) instead of fetching a fresh set into a temporary one for every
# build; it needs no network once the build tools are installed.
# PYTHON=/path/to/python3 picks another interpreter for a new environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cuda=OFF
test=0
for a in "$@"; do
  case "$a" in
    --cuda) cuda=ON ;;
    --test) test=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$a' (--cuda, --test)" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-/usr/bin/python3}
if [ "$cuda" = ON ] && ! command -v nvcc >/dev/null; then
  echo "install.sh: --cuda needs nvcc on PATH (e.g. export PATH=/usr/local/cuda/bin:\$PATH)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "== making .venv from $python (with its site packages)"
  "$python" -m venv --system-site-packages .venv
fi
py=.venv/bin/python
# The build tools and the wrappers' libraries, each only when missing.
need=()
"$py" -c "import scikit_build_core" 2>/dev/null || need+=("scikit-build-core")
"$py" -c "import numpy" 2>/dev/null || need+=("numpy")
"$py" -c "import gymnasium" 2>/dev/null || need+=("gymnasium>=1.0")
"$py" -c "import pettingzoo" 2>/dev/null || need+=("pettingzoo>=1.24")
"$py" -c "import pytest" 2>/dev/null || need+=("pytest")
if [ ${#need[@]} -gt 0 ]; then
  echo "== pip install ${need[*]}"
  "$py" -m pip install -q "${need[@]}"
fi
if ! command -v cmake >/dev/null; then
  echo "install.sh: cmake is missing: bash cmake/install-deps.sh installs the build dependencies" >&2
  exit 1
fi

echo "== building and installing afsim (AFSIM_CUDA=$cuda, build folder build-py/)"
AFSIM_CUDA=$cuda "$py" -m pip install --no-build-isolation -q .
"$py" -c "import afsim; print('afsim', afsim.__version__, '(' + afsim.GIT_REVISION + '),',
           'CUDA backend built:', afsim.cuda_built(), '->', afsim.__file__)"

if [ "$test" = 1 ]; then
  "$py" -m pytest -q -p no:cacheprovider tests/python
fi
