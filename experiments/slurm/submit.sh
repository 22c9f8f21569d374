#!/usr/bin/env bash
# Submits a sweep to Slurm: a job array of N shards (sweep.sbatch) and a
# merge-and-plot job (merge.sbatch) that runs once every shard succeeded.
# Prints the two job ids. A shard that failed or was cancelled can be
# submitted again (same command): it resumes.
#
#   bash experiments/slurm/submit.sh SWEEP.ini --shards N [--profile NAME]
#        [--out DIR] [--backend cpu|cuda|auto] [--image IMAGE] [--bin AFSIM]
#        [-- SBATCH OPTIONS, e.g. --account=X --gres=gpu:1 --time=04:00:00: all
#        for the array; for the merge job all but --gres/--gpus/--array]
#
# --out: the results folder, on a file system every node sees (default
# sweep-<name>[-<profile>] here). --image: run afsim, the merge and the plot
# from a container image (docker run, each array task with the GPUs Slurm
# gave it, as you) instead of --bin (default: build/afsim of this tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sweep="" shards="" profile="" out="" backend=auto image="" bin=$root/build/afsim
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "submit.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) sweep=$1; shift ;;
  esac
done
if [ -z "$sweep" ] || ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: give the sweep file and --shards N (N >= 1); see --help" >&2
  exit 2
fi
[ -f "$sweep" ] || { echo "submit.sh: $sweep: no such file" >&2; exit 2; }
sweep=$(cd "$(dirname "$sweep")" && pwd)/$(basename "$sweep")
if [ -z "$out" ]; then
  name=$(basename "$sweep" .ini)
  out=$PWD/sweep-$name${profile:+-$profile}
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The sweep checked here, before anything is queued: a typo fails now.
if [ -z "$image" ]; then
  "$bin" sweep "$sweep" ${profile:+--profile "$profile"} --shard "0/$shards" --out "$out" --check
fi
export AFSIM_SWEEP=$sweep AFSIM_OUT=$out AFSIM_PROFILE=$profile AFSIM_BACKEND=$backend
export AFSIM_IMAGE=$image AFSIM_BIN=$bin AFSIM_PLOT=$root/experiments/plot_figures.py
export AFSIM_SHARDS=$shards
# The merge job takes the same options (account, partition, QOS, time)
# but those that ask for GPUs or an array.
merge_extra=()
for o in "${extra[@]}"; do
  case "$o" in
    --gres*|--gpus*|--gpu*|--array*|-a*) ;;
    *) merge_extra+=("$o") ;;
  esac
done
array=$(sbatch --parsable --export=ALL --array=0-$((shards - 1)) --chdir="$out" "${extra[@]}" \
  "$root/experiments/slurm/sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency=afterok:"$array" --chdir="$out" \
  "${merge_extra[@]}" "$root/experiments/slurm/merge.sbatch")
merge=${merge%%;*}
echo "submitted: array $array ($shards shards of $sweep${profile:+, profile $profile}), merge $merge; results in $out"
