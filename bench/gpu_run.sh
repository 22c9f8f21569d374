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
# Variables are shared with the sourced check:
# shellcheck disable=SC2154,SC2034
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The functions of the check (find_toolchain, gpu_cmake_args, run_bin ...):
# shellcheck source=/dev/null
source "$here/gpu_check.sh"

gpu_run_main() {
  local root=$gpu_check_root build=${AFSIM_GPU_CHECK_BUILD_DIR:-$gpu_check_root/build-gpu}
  local limit=${AFSIM_GPU_RUN_LIMIT_S:-120} gen=() c rc failed=0
  if ! find_toolchain "$root" /dev/stderr; then
    echo "gpu_run: $setup_error"
    return 1
  fi
  printf '%s\n' "${info_rows[@]}"
  # Configured once; built every time (incremental), so that a folder kept
  # from an earlier call never measures old code.
  rc=0
  if ! [ -f "$build/CMakeCache.txt" ]; then
    mapfile -t gen < <(cmake_generator_args)
    gpu_cmake_args "$root" "$build"
    cmake "${cfg[@]}" > /dev/null || rc=$?
  fi
  [ "$rc" != 0 ] || cmake --build "$build" -j "$(nproc)" > "$build.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    grep -E "error|Error" "$build.log" 2>/dev/null | head -n 25
    echo "gpu_run: the build failed (exit $rc)"
    return 1
  fi
  export B=$build
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

log=/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && log=$OUT/gpu_run.log; fi
gpu_run_main "$@" 2>&1 | tee -a "$log"
exit "${PIPESTATUS[0]}"
