#!/usr/bin/env bash
# The paper's figures 3-5 (docs/sweeps.md): for each figure, `afsim sweep
# experiments/figN.ini --profile PROFILE` (resumed if it was cut short),
# `afsim merge` of its shards, and experiments/plot_figures.py: into
# results/figN-PROFILE.h5, .png, .pdf and -learning.png, with the figure's
# numbers as a Markdown table in results/figN-PROFILE.md; for figure 3 also
# results/fig3-PROFILE-map.png, one slot of its trained AM-DRL at the most
# ENs (decisions and communication groups, from a trace). The sweeps' own
# folders (every point's files) stay in results/sweeps/ (not tracked).
# Installs what is missing and builds first.
#
#   bash experiments/figures.sh [--profile fast|full] [--backend cpu|cuda|auto] [fig3 fig4 fig5]
#
# fast: the 2 CPU cores of a development machine, about 30 minutes for all
# three; full: a GPU node (hours; on a cluster, experiments/slurm/sweep.sbatch
# runs the shards as a job array). A sweep whose folder holds another
# sweep's results is refused: remove results/sweeps/figN-PROFILE to start over.
# With AFSIM_BIN set (the container image, experiments/container.sh) that
# afsim runs, nothing is installed or built, and AFSIM_RESULTS (default
# results/) holds the files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=fast
backend=auto
figs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    fig3|fig4|fig5) figs+=("$1"); shift ;;
    *) echo "figures.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#figs[@]} -gt 0 ] || figs=(fig3 fig4 fig5)
afsim=${AFSIM_BIN:-}
if [ -z "$afsim" ]; then
  bash "$root/cmake/install-deps.sh"
  bash "$root/cmake/build.sh"
  afsim=$root/build/afsim
fi
results=${AFSIM_RESULTS:-$root/results}
mkdir -p "$results/sweeps"
declare -A titles=([fig3]="Figure 3: against the number of ENs"
                   [fig4]="Figure 4: against the mean deadline"
                   [fig5]="Figure 5: against the CPU cycles a function needs")
for fig in "${figs[@]}"; do
  name=$fig-$profile
  dir=$results/sweeps/$name
  start=$(date +%s)
  echo "== $name: afsim sweep experiments/$fig.ini --profile $profile"
  "$afsim" sweep "$root/experiments/$fig.ini" --profile "$profile" --backend "$backend" --out "$dir"
  echo "== $name: swept in $(($(date +%s) - start)) s"
  "$afsim" merge "$results/$name.h5" "$dir"/shard-*.h5 --force
  /usr/bin/python3 "$root/experiments/plot_figures.py" "$results/$name.h5" \
    -o "$results/$name" --title "${titles[$fig]} ($profile profile)" --table > "$results/$name.md"
  cat "$results/$name.md"
  if [ "$fig" = fig3 ]; then
    # A map of one slot of the trained AM-DRL at the most ENs (first seed):
    # its decisions and its communication groups (experiments/plot_map.py).
    read -r point agents < <(/usr/bin/python3 -c '
import h5py, sys
pts = h5py.File(sys.argv[1], "r")["points"]
best = max(((int(p.attrs["env.agents"]), -int(p.attrs["run.seed"]), n) for n, p in pts.items()
            if p.attrs["sweep_method"] == b"amdrl"), default=None)
print(f"{best[2]} {best[0]}" if best else "none 0")' "$results/$name.h5")
    if [ "$point" != none ]; then
      "$afsim" run --policy "ckpt:$dir/points/$point-train.ckpt.h5" --backend "$backend" \
        --set env.agents="$agents" --envs 1 --set env.slots=2 --episodes 1 --trace --quiet --force \
        --out "$dir/map.h5"
      /usr/bin/python3 "$root/experiments/plot_map.py" "$dir/map.h5" -o "$results/$name-map.png"
    fi
  fi
done
