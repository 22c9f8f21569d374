#!/usr/bin/env bash
# Measurements beyond bench/gpu_check.sh on a GPU machine: builds afsim as
# the check does (the same discovery of nvcc, cuDNN, cuBLAS and the bundle;
# Release, sm_90) into build-gpu/ (configured once, built incrementally), then
# runs each argument as one shell command with the library path of afsim's
# binaries (only for that command), their folder in $B, and a time limit
# each (AFSIM_GPU_RUN_LIMIT_S, 120 s). Output goes to the terminal and to
# $OUT/gpu_run.log (appended to) when OUT is set. Exits non-zero when the build or any
# command failed.
#
# example (the AM-DRL timings of docs/performance.md):
#   bash bench/gpu_run.sh '$B/train_bench --backend cuda --algo amdrl --envs 1024 --slots 5 --episodes 1'
#
# --min-blocks N,M,...: an A/B of the environment step's launch bounds
# (AFSIM_ENV_MIN_BLOCKS, docs/performance.md, "Registers and occupancy"):
# one build per value, in build-gpu-min-blocks-N/ beside build-gpu/, and the
# commands run against each in turn ($B the variant's folder, $MIN_BLOCKS
# its value); without commands, cuda_env_bench at E = 1024, 8192 and 32768.
#   bash bench/gpu_run.sh --min-blocks 3,4
# Variables are shared with the sourced check:
# shellcheck disable=SC2154,SC2034
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The functions of the check (find_toolchain, gpu_cmake_args, run_bin ...):
# shellcheck source=/dev/null
source "$here/gpu_check.sh"

# gpu_run_build BUILD [CMAKE ARGS...]: configures BUILD once (with the check's
# arguments and these), then builds it every time (incremental), so that a
# folder kept from an earlier call never measures old code.
gpu_run_build() {
  local build=$1 rc=0 gen=() found=("${cfg[@]}")
  shift
  if ! [ -f "$build/CMakeCache.txt" ]; then
    mapfile -t gen < <(cmake_generator_args)
    gpu_cmake_args "$gpu_check_root" "$build"
    cmake "${cfg[@]}" "$@" > /dev/null || rc=$?
    cfg=("${found[@]}") # find_toolchain's, for the next folder
  fi
  [ "$rc" != 0 ] || cmake --build "$build" -j "$(nproc)" > "$build.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    grep -E "error|Error" "$build.log" 2>/dev/null | head -n 25
    echo "gpu_run: the build of $build failed (exit $rc)"
  fi
  return "$rc"
}

# gpu_run_commands LIMIT COMMAND...: each command with $B set, a limit each;
# fails when any failed.
gpu_run_commands() {
  local limit=$1 c rc failed=0
  shift
  for c in "$@"; do
    echo "== $c (limit $limit s)"
    run_bin "$limit" bash -c "$c"
    rc=$?
    if [ "$rc" != 0 ]; then
      echo "== $(why_failed "$rc" "$limit")"
      failed=1
    fi
  done
  return "$failed"
}

gpu_run_main() {
  local build=${AFSIM_GPU_CHECK_BUILD_DIR:-$gpu_check_root/build-gpu}
  local limit=${AFSIM_GPU_RUN_LIMIT_S:-120} blocks="" v failed=0 values=()
  if [ "${1:-}" = --min-blocks ]; then
    blocks=${2:-}
    shift 2 || shift
    if ! [[ $blocks =~ ^[1-8](,[1-8])*$ ]]; then
      echo "gpu_run: --min-blocks '$blocks': give values from 1 to 8 separated by commas, e.g. 3,4"
      return 2
    fi
    # shellcheck disable=SC2016 # $B is the command's, expanded when it runs
    [ $# -gt 0 ] || set -- '$B/cuda_env_bench --envs 1024,8192,32768 --repeats 5'
  fi
  if ! find_toolchain "$gpu_check_root" /dev/stderr; then
    echo "gpu_run: $setup_error"
    return 1
  fi
  printf '%s\n' "${info_rows[@]}"
  if [ -z "$blocks" ]; then
    gpu_run_build "$build" || return 1
    export B=$build
    gpu_run_commands "$limit" "$@"
    return
  fi
  IFS=, read -r -a values <<< "$blocks"
  for v in "${values[@]}"; do
    echo "== ENV_MIN_BLOCKS=$v: $build-min-blocks-$v"
    gpu_run_build "$build-min-blocks-$v" -DAFSIM_ENV_MIN_BLOCKS="$v" || { failed=1; continue; }
    export B=$build-min-blocks-$v MIN_BLOCKS=$v
    gpu_run_commands "$limit" "$@" || failed=1
  done
  return "$failed"
}

log=/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && log=$OUT/gpu_run.log; fi
gpu_run_main "$@" 2>&1 | tee -a "$log"
exit "${PIPESTATUS[0]}"
