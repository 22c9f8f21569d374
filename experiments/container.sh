#!/usr/bin/env bash
# The container image's entrypoint (Dockerfile; README, "Sweeps, figures,
# clusters and containers"): the experiments with the image's afsim and
# python, no source tree, apt or cmake. Results go to AFSIM_RESULTS (/out in
# the image: mount a folder there, `-v "$PWD/out:/out"`).
#
#   (nothing) | default [ARGS]   the default experiment (experiments/run.sh:
#       every heuristic on experiments/default.ini, CUDA when the container
#       has a GPU): /out/runs/default-<UTC time>.h5 and .png; ARGS go to
#       `afsim run` (e.g. --episodes 5)
#   figures [--profile fast|full] [fig3 fig4 fig5]   the paper's figures
#       (experiments/figures.sh): each sweep run or resumed in
#       /out/sweeps/figN-PROFILE, merged and plotted into /out/figN-PROFILE.h5,
#       .png, .pdf, -learning.png and .md (the numbers)
#   plot RUN.h5 [ARGS]           experiments/plot.py (a run's or training's file)
#   plot-figures SWEEP.h5 [ARGS] experiments/plot_figures.py (a merged sweep)
#   help                         this text
#   anything else                afsim itself: run, train, sweep, merge,
#                                config, version, --help ...
#
# Outside the image the same commands run from a source tree with a built
# afsim on PATH (or AFSIM_BIN) and AFSIM_RESULTS set: tests/scripts/test_slurm.sh
# checks them so.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export AFSIM_BIN=${AFSIM_BIN:-$(command -v afsim || echo afsim)}
export AFSIM_RESULTS=${AFSIM_RESULTS:-/out}
# matplotlib's cache in a folder any user may write (docker run --user).
export MPLCONFIGDIR=${MPLCONFIGDIR:-/tmp/matplotlib}

# Results written inside the container are lost with it: say so at the start.
warn_unmounted() {
  if command -v mountpoint >/dev/null && [ -d "$AFSIM_RESULTS" ] && ! mountpoint -q "$AFSIM_RESULTS" &&
     [ "$AFSIM_RESULTS" = /out ]; then
    echo "afsim-container: /out is not a mounted folder: the results stay in this container" \
         "(add -v \"\$PWD/out:/out\" to docker run)" >&2
  fi
}

cmd=${1:-default}
[ $# -eq 0 ] || shift
case "$cmd" in
  default)
    warn_unmounted
    exec bash "$here/run.sh" "$@" ;;
  figures)
    warn_unmounted
    exec bash "$here/figures.sh" "$@" ;;
  plot)
    exec /usr/bin/python3 "$here/plot.py" "$@" ;;
  plot-figures)
    exec /usr/bin/python3 "$here/plot_figures.py" "$@" ;;
  help)
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    exec "$AFSIM_BIN" "$cmd" "$@" ;;
esac
