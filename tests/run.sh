#!/usr/bin/env bash
# All tests (docs/testing.md has each stage, its time and how to run it
# alone): installs what is missing, builds everything (the CUDA code must
# compile: a missing nvcc is an error here, not a quiet CPU-only build), runs
# the smoke experiment and its plot end to end, the Criterion suite, the
# script tests (tests/scripts: the compiled kernels' resources, the GPU
# check and its measurements, sweeps and merges), the Python package and
# the Python scripts' tests (tests/python, pytest, in .venv), then the whole suite again
# under ASan + UBSan (clang, CPU only), the fuzz harnesses (replays, then a
# short run of each), and a sweep through a real one-node Slurm
# (tests/scripts/test_slurm.sh).
# AFSIM_TEST_QUICK=1 leaves out the last three stages (a quick local run; CI
# runs everything).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=${AFSIM_TEST_QUICK:-0}

names=()
times=()
current=""
start_all=$(date +%s)
summary() {
  local rc=$?
  echo "==== stages (seconds)"
  for i in "${!names[@]}"; do
    printf '  %-10s %4d\n' "${names[$i]}" "${times[$i]}"
  done
  if [ "$rc" != 0 ] && [ -n "$current" ]; then
    printf '  %-10s FAILED\n' "$current"
  fi
  printf '  %-10s %4d\n' total $(($(date +%s) - start_all))
  [ "$quick" = 0 ] || echo "  (AFSIM_TEST_QUICK=1: sanitize and fuzz stages left out)"
}
trap summary EXIT
# stage NAME COMMAND...: runs one stage and records its time.
stage() {
  current=$1
  shift
  echo "==== $current"
  local s
  s=$(date +%s)
  "$@"
  names+=("$current")
  times+=($(($(date +%s) - s)))
  current=""
}

deps() {
  if [ "$quick" = 0 ]; then
    bash "$root/cmake/install-deps.sh" --tests
  else
    bash "$root/cmake/install-deps.sh"
  fi
}
smoke() {
  local tmp rc=0 train
  tmp=$(mktemp -d)
  train=("$root/build/afsim" train --config "$root/experiments/smoke.ini" --quiet
         --set train.warmup=200 --set esdrl.batch=64 --set maddpg.batch=64
         --set amdrl.batch=60 --set amdrl.thought=16 --set amdrl.channel_hidden=8
         --set amdrl.critic_hidden=64,64
         --set train.eval_every=1 --set train.eval_episodes=1)
  { "$root/build/afsim" run --config "$root/experiments/smoke.ini" --out "$tmp/smoke.h5" --quiet &&
    /usr/bin/python3 "$root/experiments/plot.py" "$tmp/smoke.h5" -o "$tmp/smoke.png" &&
    test -s "$tmp/smoke.png" &&
    # A training of each method, a resume, its curves drawn, its policy played.
    "${train[@]}" --algo esdrl --episodes 2 --out "$tmp/esdrl.h5" &&
    "$root/build/afsim" train --resume "$tmp/esdrl.ckpt.h5" --episodes 3 --quiet &&
    "${train[@]}" --algo maddpg --episodes 2 --out "$tmp/maddpg.h5" &&
    "${train[@]}" --algo amdrl --episodes 2 --out "$tmp/amdrl.h5" &&
    /usr/bin/python3 "$root/experiments/plot.py" "$tmp/esdrl.h5" -o "$tmp/esdrl.png" &&
    test -s "$tmp/esdrl.png" &&
    "$root/build/afsim" run --config "$root/experiments/smoke.ini" --out "$tmp/played.h5" --quiet \
      --policy "greedy,best_response,ckpt:$tmp/esdrl.ckpt.h5,ckpt:$tmp/maddpg.ckpt.h5,ckpt:$tmp/amdrl.ckpt.h5"; } || rc=1
  rm -rf "$tmp"
  return "$rc"
}
# The Python tests (tests/python): the package afsim built and installed
# into .venv (python/install.sh: Debian's Python, whose h5py and matplotlib
# the experiment scripts use, with gymnasium, pettingzoo and pytest added),
# then pytest over the package's tests and the scripts' tests.
python_tests() {
  bash "$root/python/install.sh"
  "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider "$root/tests/python"
}
scripts() {
  bash "$root/tests/scripts/test_kernel_resources.sh"
  bash "$root/tests/scripts/test_gpu_check.sh"
  bash "$root/tests/scripts/test_sweep.sh"
}

stage deps deps
stage build bash "$root/cmake/build.sh" -DAFSIM_CUDA=ON -DAFSIM_REQUIRE_CUDA=ON
stage smoke smoke
stage suite "$root/build/afsim_tests" --jobs 2
stage scripts scripts
stage python python_tests
if [ "$quick" = 0 ]; then
  stage sanitize bash "$root/tests/sanitize/run.sh"
  stage fuzz bash "$root/tests/fuzz/run.sh"
  stage slurm bash "$root/tests/scripts/test_slurm.sh"
fi
