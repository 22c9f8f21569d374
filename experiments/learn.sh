#!/usr/bin/env bash
# The learning-quality experiment (docs/performance.md, "Learning quality"):
# ES-DRL, MADDPG and AM-DRL with its two ablations (amdrl-always: every EN
# initiates a group; amdrl-never: no communication) trained for a fixed
# budget (experiments/learn.ini), then each trained policy evaluated on
# held-out episodes beside random, greedy and best_response (the
# coordinated bound), in one results file per setting. On the CUDA backend
# all train at M = 150; on the CPU MADDPG trains at M = 30 with batches of
# 256 (its critics cost M^2: seconds per gradient step at M = 150 on two
# cores), and AM-DRL at M = 150 takes hours (docs/performance.md).
#
#   bash experiments/learn.sh [--algo esdrl|maddpg|amdrl|amdrl-always|amdrl-never]
#                             [--backend cpu|cuda|auto]
#                             [--episodes N] [--eval-episodes N]
#
# Writes results/learn/<algo>-<UTC time>.h5 (learning curves) with its
# checkpoint and .png, and <algo>-<UTC time>-eval.h5 (the evaluation, with
# each policy's communication volume), and prints the evaluation table and
# the training time. Nothing is replaced.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
algos=(esdrl maddpg amdrl amdrl-always amdrl-never)
backend=auto
episodes=""
eval_episodes=8
while [ $# -gt 0 ]; do
  case "$1" in
    --algo) algos=("$2"); shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --episodes) episodes=$2; shift 2 ;;
    --eval-episodes) eval_episodes=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "learn.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
bash "$root/cmake/install-deps.sh"
bash "$root/cmake/build.sh"
afsim=$root/build/afsim
out=$root/results/learn
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# The backend `auto` resolves to: cuda when a GPU is usable.
on_gpu=0
if [ "$backend" = cuda ] ||
   { [ "$backend" = auto ] && "$afsim" run --backend cuda --episodes 1 --envs 1 \
       --set env.agents=2 --set env.slots=1 --quiet --out "$out/.probe-$stamp.h5" 2>/dev/null; }; then
  on_gpu=1
fi
rm -f "$out/.probe-$stamp.h5"

for variant in "${algos[@]}"; do
  # amdrl-always and amdrl-never: AM-DRL's two ablations (amdrl.comm)
  case "$variant" in
    esdrl|maddpg|amdrl) algo=$variant; comm=() ;;
    amdrl-always|amdrl-never) algo=amdrl; comm=(--set "amdrl.comm=${variant#amdrl-}") ;;
    *) echo "learn.sh: --algo $variant: esdrl, maddpg, amdrl, amdrl-always or amdrl-never" >&2
       exit 2 ;;
  esac
  setting=() # what differs from learn.ini, for training and evaluation alike
  if [ "$algo" = maddpg ] && [ "$on_gpu" = 0 ]; then
    setting=(--set env.agents=30 --set maddpg.batch=256)
  fi
  budget=()
  [ -z "$episodes" ] || budget=(--episodes "$episodes")
  name=$out/$variant-$stamp
  echo "== training $variant (${setting[*]:-learn.ini as it is} ${comm[*]:-} ${budget[*]:-})"
  start=$(date +%s)
  "$afsim" train --config "$root/experiments/learn.ini" --algo "$algo" --backend "$backend" \
    --out "$name.h5" "${setting[@]}" "${comm[@]}" "${budget[@]}"
  took=$(($(date +%s) - start))
  echo "== $variant trained in $took s"
  /usr/bin/python3 "$root/experiments/plot.py" "$name.h5" \
    --metrics return,success_rate,mean_cost,offload_fraction,critic_loss,actor_loss >/dev/null
  echo "== evaluating $variant beside random, greedy and best_response on $eval_episodes held-out episodes"
  "$afsim" run --config "$root/experiments/learn.ini" --backend "$backend" \
    --policy "random,greedy,best_response,ckpt:$name.ckpt.h5" --episodes "$eval_episodes" \
    --out "$name-eval.h5" "${setting[@]}"
done
