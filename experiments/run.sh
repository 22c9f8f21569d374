#!/usr/bin/env bash
# The default experiment: every heuristic policy on the default edge-cloud
# setting (experiments/default.ini), on the CUDA backend when a GPU is present
# and the CPU backend otherwise. Installs what is missing, builds, runs, plots.
# Each run writes a new results/runs/default-<UTC time>.h5 and .png, so no
# earlier result is replaced. Extra arguments go to `afsim run`.
# With AFSIM_BIN set (the container image, experiments/container.sh) that
# afsim runs, nothing is installed or built, and AFSIM_RESULTS (default
# results/) holds runs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
afsim=${AFSIM_BIN:-}
if [ -z "$afsim" ]; then
  bash "$root/cmake/install-deps.sh"
  bash "$root/cmake/build.sh"
  afsim=$root/build/afsim
fi
results=${AFSIM_RESULTS:-$root/results}
mkdir -p "$results/runs"
out="$results/runs/default-$(date -u +%Y%m%dT%H%M%SZ).h5"
"$afsim" run --config "$root/experiments/default.ini" --out "$out" "$@"
/usr/bin/python3 "$root/experiments/plot.py" "$out"
