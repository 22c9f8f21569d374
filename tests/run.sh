#!/usr/bin/env bash
# All tests: installs what is missing, builds everything (the CUDA code must
# compile: a missing nvcc is an error here, not a quiet CPU-only build), runs
# the smoke experiment and its plot end to end, the Criterion suite, then the
# script tests (tests/scripts: the compiled kernels' resources, the GPU check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/cmake/install-deps.sh"
bash "$root/cmake/build.sh" -DAFSIM_REQUIRE_CUDA=ON
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "end to end: smoke run and plot"
"$root/build/afsim" run --config "$root/experiments/smoke.ini" --out "$tmp/smoke.h5" --quiet
/usr/bin/python3 "$root/experiments/plot.py" "$tmp/smoke.h5" -o "$tmp/smoke.png"
test -s "$tmp/smoke.png"
"$root/build/afsim_tests" --jobs 2
bash "$root/tests/scripts/test_kernel_resources.sh"
bash "$root/tests/scripts/test_gpu_check.sh"
