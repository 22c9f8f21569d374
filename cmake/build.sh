#!/usr/bin/env bash
# Configures and builds afsim into build/ (Release). Extra arguments go to
# cmake, e.g. -DAFSIM_REQUIRE_CUDA=ON, or -DAFSIM_CUDA=OFF for the CPU
# backend only (docs/testing.md lists the options). The CUDA backend is
# built when nvcc is found; /usr/local/cuda/bin is searched when nvcc is not
# on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$root/build" -j "$(nproc)"
