#!/usr/bin/env bash
# The default experiment: every heuristic policy on the default edge-cloud
# setting (experiments/default.ini), on the CUDA backend when a GPU is present
# and the CPU backend otherwise. Installs what is missing, builds, runs, plots.
# Each run writes a new results/runs/default-<UTC time>.h5 and .png, so no
# earlier result is replaced. Extra arguments go to `afsim run`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/cmake/install-deps.sh"
bash "$root/cmake/build.sh"
mkdir -p "$root/results/runs"
out="$root/results/runs/default-$(date -u +%Y%m%dT%H%M%SZ).h5"
"$root/build/afsim" run --config "$root/experiments/default.ini" --out "$out" "$@"
/usr/bin/python3 "$root/experiments/plot.py" "$out"
