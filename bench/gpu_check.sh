#!/usr/bin/env bash
# The first thing to run on a GPU machine. Builds afsim with CUDA into
# build-gpu/ for sm_90 (H100, H200), runs every test with the CUDA tests
# required to run (AFSIM_REQUIRE_GPU=1: a CUDA test that finds no usable
# device fails instead of skipping, so a broken cuBLAS or cuDNN set-up shows
# as a failure), runs the CUDA benchmarks and the CPU one for reference, then
# compute-sanitizer (memcheck, racecheck) over a few small CUDA parity tests,
# and ends with a table: one row per step (ok / FAILED and why / skipped and
# why), the sanitizer error counts and the benchmark figures. The table is
# printed on every path, failures included, and the exit status is non-zero
# when any step failed.
#
# On a GPU machine without the Debian packages (and without network): make
# the bundle on a development machine with `bash bench/gpu_bundle.sh`, copy
# gpu-deps/ with the source tree to the GPU machine, and run
# `bash bench/gpu_check.sh` there. It needs there: nvcc (on PATH or in
# /usr/local/cuda/bin), cmake, ninja (else cmake's default generator),
# timeout, python3 (to find cuDNN, and cuBLAS when the toolkit has only
# versioned library names, in the nvidia-* Python packages) and
# compute-sanitizer (on PATH or beside nvcc). Every step has a time limit and
# the whole check stops within AFSIM_GPU_CHECK_BUDGET_S (450 s; about 5
# minutes expected on an H100 with 16 cores).
#
# Libraries: gpu-deps/lib, a cuDNN found in a Python package and a versioned
# cuBLAS are put on LD_LIBRARY_PATH only for the commands that run afsim's
# binaries (run_bin), never for cmake, the compilers or python, whose own
# libraries (libz, libssl, libcurl ...) the bundle's copies would shadow.
#
# Logs go to $OUT when it is set, else to a new temporary folder (named at
# the start and in the table), six files: gpu_check.log (all that is
# printed), configure.txt, build.txt, tests.txt, benchmarks.txt, sanitizer.txt.
#
# Environment overrides (the default is the full check):
#   AFSIM_GPU_CHECK_TESTS=PATTERN  run only the tests matching this Criterion
#                                  --filter pattern (the sanitizer runs keep theirs)
#   AFSIM_GPU_CHECK_QUICK=1        short benchmarks (small sizes, one repeat)
#   AFSIM_GPU_CHECK_BUDGET_S=N     time budget of the whole check (default 450)
#   AFSIM_GPU_CHECK_BUILD_DIR=DIR  build folder (default build-gpu/, removed first)
#   AFSIM_GPU_DEPS=DIR             the bundle (default gpu-deps/ in the source tree)
#   AFSIM_GPU_CHECK_PYTHON=PROGRAM python that looks for the nvidia-* packages (python3)
#   COMPUTE_SANITIZER=PATH         the compute-sanitizer to use
#
# The functions can be sourced (tests/scripts/test_gpu_check.sh does so);
# main runs only when this file is executed.
set -uo pipefail

gpu_check_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Folders added to LD_LIBRARY_PATH for afsim's binaries alone (run_bin).
bin_libdirs=()

# The compute-sanitizer runs, "TOOL SECONDS FILTER": small CUDA parity tests
# (networks through cuBLAS and cuDNN; the environment kernels). Criterion's
# --filter takes one pattern a run; its @(a|b) alternatives work within one
# path component (suite/test), not across the slash. The environment's
# runs cover every changed device path: memcheck over random configurations
# (every policy, 1 to 4 APs a side) and best_response's descent; racecheck
# over one warp (M = 7) and over blocks of several warps (M = 150 at 256
# threads: the cross-warp sums in shared memory) and of one warp looping
# over five agents a thread (M = 150 at 32). Expected on an H100 (not yet
# measured): a few seconds each for the small ones, as on the H200, and
# under a minute for the two added in issue 23 together (best_response's
# descent is serial, one thread an environment); the budget
# (AFSIM_GPU_CHECK_BUDGET_S, 450 s) still bounds the whole check, under 8
# minutes.
sanitizer_runs=(
  "memcheck 100 cuda_nn_parity/*"
  "memcheck 60 cuda_learn_parity/*"
  "memcheck 60 maddpg/axpy_cuda_matches_cpu"
  "memcheck 60 cuda_groups_parity/@(float_operations_are_identical|empty_work_touches_nothing)"
  "memcheck 60 cuda_parity/@(fused_slots_greedy_small|phase_by_phase_matches_too)"
  "memcheck 90 cuda_parity/@(random_configurations|best_response_slots)"
  "racecheck 60 cuda_parity/fused_slots_greedy_small"
  "racecheck 90 cuda_parity/fused_slots_with_other_block_sizes"
)

# ---------------------------------------------------------------- discovery

# toolkit_root NVCC: the toolkit folder of an nvcc (its bin/..), links resolved.
toolkit_root() {
  local n
  n=$(readlink -f "$1") || return 1
  dirname "$(dirname "$n")"
}

toolkit_lib_dirs() {
  local d
  for d in "$1/lib64" "$1/targets/x86_64-linux/lib" "$1/lib"; do
    if [ -d "$d" ]; then printf '%s\n' "$d"; fi
  done
}

toolkit_include_dirs() {
  local d
  for d in "$1/include" "$1/targets/x86_64-linux/include"; do
    if [ -d "$d" ]; then printf '%s\n' "$d"; fi
  done
}

# python_package_dirs MODULE...: every folder of these packages, by __path__
# (the nvidia.* packages are namespace packages: __file__ is None there).
# Prints nothing when python or the package is missing.
python_package_dirs() {
  "${AFSIM_GPU_CHECK_PYTHON:-python3}" - "$@" 2>/dev/null <<'EOF' || true
import importlib, sys
for name in sys.argv[1:]:
    try:
        m = importlib.import_module(name)
    except Exception:
        continue
    for p in list(getattr(m, "__path__", None) or []):
        print(p)
EOF
}

# has_toolkit_cudnn ROOT: cudnn.h and libcudnn.so* are in the toolkit's own folders.
has_toolkit_cudnn() {
  local d h=0 l=0
  while IFS= read -r d; do [ -f "$d/cudnn.h" ] && h=1; done < <(toolkit_include_dirs "$1")
  while IFS= read -r d; do compgen -G "$d/libcudnn.so*" >/dev/null && l=1; done < <(toolkit_lib_dirs "$1")
  [ "$h" = 1 ] && [ "$l" = 1 ]
}

# find_cudnn_dir TOOLKIT_ROOT: the folder to pass as AFSIM_CUDNN_DIR.
# Prints nothing and succeeds when the toolkit has its own cuDNN (preferred);
# prints the nvidia.cudnn Python package's folder that holds include/cudnn.h
# and lib/libcudnn.so*; fails, printing nothing, when neither has one.
find_cudnn_dir() {
  local d
  if has_toolkit_cudnn "$1"; then return 0; fi
  while IFS= read -r d; do
    if [ -f "$d/include/cudnn.h" ] && compgen -G "$d/lib/libcudnn.so*" >/dev/null; then
      printf '%s\n' "$d"
      return 0
    fi
  done < <(python_package_dirs nvidia.cudnn)
  return 1
}

# newest_versioned BASE DIR...: the highest-versioned DIR/BASE.so.N* of the
# first folder that has one.
newest_versioned() {
  local base=$1 d
  shift
  for d in "$@"; do
    if compgen -G "$d/$base.so.[0-9]*" >/dev/null; then
      printf '%s\n' "$d/$base".so.[0-9]* | sort -V | tail -n 1
      return 0
    fi
  done
  return 0
}

# cublas_cmake_args TOOLKIT_ROOT: cmake cache arguments, one a line, for the
# CUDA libraries that the toolkit has only under versioned names (e.g.
# libcublas.so.13 without libcublas.so: cuBLAS from a pip package or a
# runtime-only install). FindCUDAToolkit looks for cublas, cublasLt and
# cudart by their unversioned names; these give it full paths instead, from
# the toolkit's folders first, then the nvidia.cu13 / nvidia.cublas /
# nvidia.cuda_runtime Python packages. Prints nothing when the toolkit has
# the unversioned names.
cublas_cmake_args() {
  local root=$1 name d f asked=0 unversioned
  local dirs=() pydirs=()
  mapfile -t dirs < <(toolkit_lib_dirs "$root")
  for name in cublas cublasLt cudart; do
    unversioned=0
    for d in "${dirs[@]}"; do
      if [ -e "$d/lib$name.so" ]; then unversioned=1; fi
    done
    [ "$unversioned" = 1 ] && continue
    f=$(newest_versioned "lib$name" "${dirs[@]}")
    if [ -z "$f" ]; then
      if [ "$asked" = 0 ]; then
        mapfile -t pydirs < <(python_package_dirs nvidia.cu13 nvidia.cublas nvidia.cuda_runtime | sed 's|$|/lib|')
        asked=1
      fi
      f=$(newest_versioned "lib$name" "${pydirs[@]}")
    fi
    [ -n "$f" ] || continue
    printf -- '-DCUDA_%s_LIBRARY=%s\n' "$name" "$f"
    # FindCUDAToolkit also requires CUDA_CUDART (the toolkit's library folder is its folder).
    if [ "$name" = cudart ]; then printf -- '-DCUDA_CUDART=%s\n' "$f"; fi
  done
}

# find_sanitizer TOOLKIT_ROOT: compute-sanitizer's path, or nothing.
find_sanitizer() {
  local c
  if [ -n "${COMPUTE_SANITIZER:-}" ]; then
    if [ -x "$COMPUTE_SANITIZER" ]; then printf '%s\n' "$COMPUTE_SANITIZER"; fi
    return 0
  fi
  if command -v compute-sanitizer 2>/dev/null; then return 0; fi
  for c in "$1/bin/compute-sanitizer" "$1/compute-sanitizer/compute-sanitizer"; do
    if [ -x "$c" ]; then printf '%s\n' "$c"; return 0; fi
  done
}

have_cblas() { [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || [ -f /usr/include/openblas/cblas.h ]; }

# cmake_generator_args: -G Ninja when ninja is on PATH (one word a line).
cmake_generator_args() {
  if command -v ninja >/dev/null 2>&1; then printf '%s\n' -G Ninja; fi
}

# find_toolchain ROOT LOG: what building and running afsim here needs.
# Sets nvcc (and puts it on PATH), tk, cfg (cmake arguments for cuDNN,
# cuBLAS, the bundle, BLAS), bin_libdirs (run_bin's library path) and
# deps_how, adding info rows; an installation of the Debian packages logs
# to LOG. Fails with setup_error set when there is no nvcc or no way to the
# dependencies. cuDNN and cuBLAS are found before anything touches
# LD_LIBRARY_PATH (which only run_bin ever sets), so python loads its own
# libraries.
find_toolchain() {
  local root=$1 log=$2 cudnn_dir a d cublas=()
  nvcc=$(command -v nvcc 2>/dev/null) || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; } || nvcc=""
  if [ -z "$nvcc" ]; then
    info toolkit "nvcc not found (PATH, /usr/local/cuda/bin)"
    setup_error="no nvcc"
    return 1
  fi
  PATH="$(dirname "$nvcc"):$PATH"
  export PATH
  tk=$(toolkit_root "$nvcc")
  info toolkit "$tk ($("$nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'version unknown'))"

  if has_toolkit_cudnn "$tk"; then
    info cuDNN "the toolkit's"
  elif cudnn_dir=$(find_cudnn_dir "$tk"); then
    info cuDNN "$cudnn_dir (Python package)"
    cfg+=(-DAFSIM_CUDNN_DIR="$cudnn_dir")
    bin_libdirs+=("$cudnn_dir/lib")
  else
    info cuDNN "not in the toolkit nor in a Python package: left to cmake's search"
  fi
  mapfile -t cublas < <(cublas_cmake_args "$tk")
  if [ ${#cublas[@]} -eq 0 ]; then
    info cuBLAS "the toolkit's (unversioned names)"
  else
    info cuBLAS "versioned names only: ${cublas[*]}"
    cfg+=("${cublas[@]}")
    for a in "${cublas[@]}"; do
      d=$(dirname "${a#*=}")
      [[ " ${bin_libdirs[*]} " == *" $d "* ]] || bin_libdirs+=("$d")
    done
  fi

  # Dependencies: the bundle, or the Debian packages.
  local deps_dir=${AFSIM_GPU_DEPS:-$root/gpu-deps}
  if [ -d "$deps_dir" ]; then
    cfg+=(-DAFSIM_DEPS_DIR="$deps_dir")
    bin_libdirs+=("$deps_dir/lib")
    deps_how="bundle $deps_dir"
  elif [ -f /usr/include/Random123/philox.h ]; then
    deps_how="Debian packages"
  elif bash "$root/cmake/install-deps.sh" > "$log" 2>&1; then
    deps_how="Debian packages, installed now"
  else
    tail -n 5 "$log"
    setup_error="no $deps_dir and the Debian packages cannot be installed: make the bundle with bench/gpu_bundle.sh on a development machine and copy gpu-deps/ with the source tree"
    return 1
  fi
  have_cblas || cfg+=(-DAFSIM_BLAS=OFF)
}

# gpu_cmake_args ROOT BUILD: the whole cmake command line into cfg (after
# find_toolchain, with gen from cmake_generator_args): Release, CUDA
# required, sm_90 (H100, H200).
gpu_cmake_args() {
  cfg=(-S "$1" -B "$2" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON
       -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 "${cfg[@]}")
}

# ------------------------------------------------------------------ running

# with_timeout SECONDS COMMAND...: COMMAND under a time limit (its whole
# process group is stopped; killed 10 s after the limit if need be). Run in
# the background and waited for, so that a signal to this script is handled
# at once (the trap stops the step, step_pid, and prints the table).
with_timeout() {
  local secs=$1 rc
  shift
  timeout -k 10 "$secs" "$@" &
  step_pid=$!
  wait "$step_pid"
  rc=$?
  step_pid=""
  return "$rc"
}

# run_bin SECONDS [VAR=VALUE...] COMMAND...: runs one of afsim's binaries
# (tests, benchmarks, or compute-sanitizer over them) under a time limit with
# bin_libdirs put before LD_LIBRARY_PATH, for that command alone.
run_bin() {
  local secs=$1 p
  shift
  p=$(IFS=:; printf '%s' "${bin_libdirs[*]}")
  p="$p${LD_LIBRARY_PATH:+${p:+:}$LD_LIBRARY_PATH}"
  if [ -n "$p" ]; then
    with_timeout "$secs" env LD_LIBRARY_PATH="$p" "$@"
  else
    with_timeout "$secs" env "$@"
  fi
}

# why_failed RC SECONDS: the reason a limited command stopped.
why_failed() {
  case $1 in
    124 | 137) printf 'timed out after %s s' "$2" ;;
    *) printf 'exit %s' "$1" ;;
  esac
}

# sanitizer_errors TOOL FILE: "ERRORS SUMMARIES WARNINGS" of a
# compute-sanitizer log. memcheck: the "ERROR SUMMARY: N errors" lines
# summed; racecheck: its "RACECHECK SUMMARY: H hazards displayed (E errors,
# W warnings)" lines summed, or the ERROR SUMMARY lines if they count more.
# SUMMARIES 0 means that none was printed, which is not the same as no errors.
sanitizer_errors() {
  local tool=$1 file=$2 e1 n1 e2 n2 w
  read -r e1 n1 < <({ grep -oE 'ERROR SUMMARY: [0-9]+ error' "$file" 2>/dev/null || true; } |
    awk '{e += $3; n++} END {print e + 0, n + 0}')
  if [ "$tool" != racecheck ]; then
    echo "$e1 $n1 0"
    return 0
  fi
  read -r e2 n2 w < <({ grep -oE 'RACECHECK SUMMARY: [0-9]+ hazards? displayed \([0-9]+ errors?, [0-9]+ warnings?\)' "$file" 2>/dev/null || true; } |
    sed -E 's/.*\(([0-9]+) errors?, ([0-9]+) warnings?\)/\1 \2/' | awk '{e += $1; w += $2; n++} END {print e + 0, n + 0, w + 0}')
  echo "$((e1 > e2 ? e1 : e2)) $((n1 + n2)) $w"
}

# criterion_synthesis FILE: the counts of Criterion's last Synthesis line.
criterion_synthesis() {
  { grep -E 'Synthesis' "$1" 2>/dev/null || true; } | tail -n 1 | sed 's/.*Synthesis: //; s/ *$//'
}

# parity_counts FILE: "PASSED FAILED SKIPPED" of the CUDA tests in a verbose
# Criterion log: the CUDA parity suites, and the CUDA variants that other
# suites name cuda_* (run::cuda_..., amdrl::cuda_...). Tests left out by
# --filter are not counted.
parity_counts() {
  local p f s re='(cuda_(nn_|learn_)?parity::|[a-z_]+::cuda_)'
  p=$(grep -cE "^\[PASS\] $re" "$1" 2>/dev/null || true)
  f=$(grep -cE "^\[FAIL\] $re" "$1" 2>/dev/null || true)
  s=$({ grep -E "^\[SKIP\] $re" "$1" 2>/dev/null || true; } | grep -cv 'Test is disabled' || true)
  printf '%s %s %s\n' "${p:-0}" "${f:-0}" "${s:-0}"
}

# ---------------------------------------------------------- steps and table

steps=(deps configure build tests benchmark_env benchmark_nn benchmark_train benchmark_cpu
       memcheck racecheck)
declare -A step_label=(
  [deps]="dependencies" [configure]="configure" [build]="build" [tests]="tests"
  [benchmark_env]="cuda_env_bench" [benchmark_nn]="nn_bench cuda"
  [benchmark_train]="train_bench cuda" [benchmark_cpu]="env_bench cpu"
  [memcheck]="memcheck" [racecheck]="racecheck")
declare -A step_status=()
failed_steps=()
info_rows=()
for s in "${steps[@]}"; do step_status[$s]="skipped (not reached)"; done

step_ok() { step_status[$1]="ok${2:+ ($2)}"; }
step_failed() { step_status[$1]="FAILED ($2)"; failed_steps+=("$1"); }
step_skipped() { step_status[$1]="skipped ($2)"; }
# skip_after STEP REASON: every step after STEP is skipped for REASON.
skip_after() {
  local s after=0
  for s in "${steps[@]}"; do
    if [ "$after" = 1 ]; then step_skipped "$s" "$2"; fi
    if [ "$s" = "$1" ]; then after=1; fi
  done
}
info() { info_rows+=("$(printf '%-16s %s' "$1:" "$2")"); }

# step_limit WANT: seconds a step may take, WANT or less to stay inside the
# budget; 0 when less than 15 s are left.
step_limit() {
  local left=$((deadline - $(date +%s) - 5))
  if [ "$left" -lt 15 ]; then echo 0; elif [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}

print_table() {
  local s
  echo
  echo "== summary ($(($(date +%s) - start)) s; logs in $out)"
  for s in "${info_rows[@]}"; do echo "$s"; done
  for s in "${steps[@]}"; do
    printf '%-16s %s\n' "${step_label[$s]}:" "${step_status[$s]}"
    if [ "$s" = tests ] && [ -n "${parity:-}" ]; then printf '%-16s %s\n' "cuda parity:" "$parity"; fi
  done
  if [ -s "$work/bench_nn.txt" ]; then
    # The largest batch of each network.
    awk '/^nn backend=/ {split($3, n, "="); last[n[2]] = $0; if (!(n[2] in seen)) {seen[n[2]] = 1; order[++k] = n[2]}}
         END {for (i = 1; i <= k; i++) print last[order[i]]}' "$work/bench_nn.txt" |
      sed -E 's/nn backend=([a-z0-9+]+) net=([a-z_]+) batch=([0-9]+) samples_per_s=([^ ]+) gflops=([^ ]+)/nn \1 \2 B=\3: \4 samples\/s, \5 GFLOP\/s/'
  fi
  # Environment and training rows, from their key=value fields (block:
  # threads per environment; algo: a training's, learning included).
  cat "$work/bench_env.txt" "$work/bench_train.txt" "$work/bench_cpu.txt" 2>/dev/null |
    grep -h "agent_steps_per_s" |
    awk '{ delete v; for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) v[kv[1]] = kv[2]
           printf "%-5s E=%-6s %-16s %10s agent-steps/s%s\n", v["backend"], v["E"],
                  ("block" in v) ? "block=" v["block"] : ("algo" in v) ? v["algo"] " B=" v["batch"] : "",
                  v["agent_steps_per_s"],
                  ("fraction_of_floor" in v) ? ", of bandwidth floor: " v["fraction_of_floor"] : "" }'
  if [ ${#failed_steps[@]} -eq 0 ]; then
    printf '%-16s %s\n' "result:" "every step ok"
  else
    printf '%-16s %s\n' "result:" "FAILED: ${failed_steps[*]}"
  fi
}

# finish: the EXIT trap. Prints the table on every path (to the saved
# descriptor of the log: a step's own redirection may be in force when a
# signal arrives), then lets tee write its last lines.
finish() {
  local rc=0 fd
  if [ "${interrupted:-0}" != 0 ]; then
    if [ -n "${step_pid:-}" ]; then kill -TERM "$step_pid" 2>/dev/null; fi
    step_failed "${current_step:-deps}" "interrupted"
  fi
  [ ${#failed_steps[@]} -eq 0 ] || rc=1
  print_table >&"$log_fd" 2>&1
  rm -rf "$work"
  # Close every descriptor of the pipe to tee (the shell may hold saved
  # copies), then give tee a moment to end.
  for fd in "/proc/$$/fd"/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$(readlink "/proc/$$/fd/$fd" 2>/dev/null)" = "$log_pipe" ]; then
      eval "exec $fd>&-"
    fi
  done
  exec >/dev/null 2>&1
  for _ in $(seq 50); do
    kill -0 "$tee_pid" 2>/dev/null || break
    sleep 0.1
  done
  exit "$rc"
}

# run_sanitizer TOOL FILTER SECONDS: one compute-sanitizer run over the tests
# matching FILTER, with the CUDA tests required to run; adds to san_errors,
# san_runs, san_warnings and san_problems (indexed by TOOL).
run_sanitizer() {
  local tool=$1 filter=$2 want=$3 lim rc sum n w synth log="$work/sanitizer_run.txt"
  lim=$(step_limit "$want")
  if [ "$lim" = 0 ]; then san_problems[$tool]+="; $filter not run (time budget spent)"; return 0; fi
  echo "-- compute-sanitizer --tool $tool, tests $filter (limit $lim s)"
  run_bin "$lim" AFSIM_REQUIRE_GPU=1 "$sanitizer" --tool "$tool" --target-processes all \
    "$bin/afsim_tests" --jobs 1 --verbose --filter "$filter" > "$log" 2>&1
  rc=$?
  { echo "== compute-sanitizer --tool $tool, filter $filter: $(why_failed "$rc" "$lim")"; cat "$log"; } >> "$out/sanitizer.txt"
  { grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|Synthesis|^\[(FAIL|SKIP)\] cuda|Device not supported' "$log" || true; } |
    grep -v 'Test is disabled' | head -n 20
  read -r sum n w < <(sanitizer_errors "$tool" "$log")
  synth=$(criterion_synthesis "$log")
  san_runs[$tool]=$((${san_runs[$tool]:-0} + 1))
  san_errors[$tool]=$((${san_errors[$tool]:-0} + sum))
  san_warnings[$tool]=$((${san_warnings[$tool]:-0} + w))
  if [ "$n" = 0 ]; then
    san_problems[$tool]+="; $filter: no ERROR SUMMARY printed ($(why_failed "$rc" "$lim"))"
    if grep -q 'Device not supported' "$log"; then san_problems[$tool]+=", the sanitizer refused the device"; fi
  elif [ "$rc" != 0 ]; then
    san_problems[$tool]+="; $filter: $(why_failed "$rc" "$lim")${synth:+, $synth}"
  elif [ -z "$synth" ] || [[ $synth == *"Tested: 0 "* ]]; then
    san_problems[$tool]+="; $filter: no test ran"
  fi
  return 0
}

# sanitizer_row TOOL: the table row of a tool, ok only with 0 errors and no problem.
sanitizer_row() {
  local tool=$1 text
  text="${san_errors[$tool]:-0} errors (0 expected), ${san_runs[$tool]:-0} runs"
  if [ "$tool" = racecheck ]; then text+=", ${san_warnings[$tool]:-0} warnings"; fi
  text+="${san_problems[$tool]:-}"
  if [ "${san_errors[$tool]:-0}" = 0 ] && [ -z "${san_problems[$tool]:-}" ]; then
    step_ok "$tool" "$text"
  else
    step_failed "$tool" "$text"
  fi
}

# bench STEP FILE WANT QUICK_ARGS -- FULL_ARGS: one benchmark (binary first in each argument list).
bench() {
  local step=$1 file=$2 want=$3 lim rc args=()
  shift 3
  if [ "$quick" = 1 ]; then
    while [ "$1" != -- ]; do args+=("$1"); shift; done
  else
    while [ "$1" != -- ]; do shift; done
    shift
    args=("$@")
  fi
  current_step=$step
  lim=$(step_limit "$want")
  if [ "$lim" = 0 ]; then step_failed "$step" "not run: time budget spent"; return; fi
  echo "== ${step_label[$step]}: ${args[*]} (limit $lim s)"
  args[0]="$bin/${args[0]}"
  run_bin "$lim" "${args[@]}" > "$work/$file" 2>&1
  rc=$?
  cat "$work/$file"
  { echo "== ${args[*]}: $(why_failed "$rc" "$lim")"; cat "$work/$file"; } >> "$out/benchmarks.txt"
  if [ "$rc" = 0 ]; then step_ok "$step"; else step_failed "$step" "$(why_failed "$rc" "$lim")"; fi
}

main() {
  local root=$gpu_check_root card nvcc tk cfg=() gen=() a d f lim rc synth p s
  start=$(date +%s)
  deadline=$((start + ${AFSIM_GPU_CHECK_BUDGET_S:-450}))
  quick=${AFSIM_GPU_CHECK_QUICK:-0}
  out=${OUT:-}
  [ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/afsim-gpu-check.XXXXXX")
  mkdir -p "$out"
  for f in gpu_check.log configure.txt build.txt tests.txt benchmarks.txt sanitizer.txt; do : > "$out/$f"; done
  work=$(mktemp -d "${TMPDIR:-/tmp}/afsim-gpu-check-work.XXXXXX")
  # tee ignores the signals that stop a run, so that the table still gets out.
  exec > >(trap '' TERM INT HUP; exec tee "$out/gpu_check.log") 2>&1
  tee_pid=$!
  exec {log_fd}>&1
  log_pipe=$(readlink "/proc/$$/fd/1" 2>/dev/null)
  trap finish EXIT
  trap 'interrupted=1; exit 143' TERM INT HUP
  echo "logs: $out"

  card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null) || card="no nvidia-smi (or no GPU)"
  info card "$card"
  echo "card: $card"

  current_step=deps
  if ! find_toolchain "$root" "$out/configure.txt"; then
    step_failed deps "$setup_error"
    skip_after deps "$setup_error"
    return
  fi
  step_ok deps "$deps_how"
  info "library path" "for afsim's binaries only: ${bin_libdirs[*]:-(none added)}"

  # Configure and build.
  current_step=configure
  local build=${AFSIM_GPU_CHECK_BUILD_DIR:-$root/build-gpu}
  rm -rf "$build"
  mapfile -t gen < <(cmake_generator_args)
  info generator "${gen[1]:-cmake default}"
  lim=$(step_limit 120)
  if [ "$lim" = 0 ]; then step_failed configure "not run: time budget spent"; skip_after configure "configure not run"; return; fi
  gpu_cmake_args "$root" "$build"
  echo "== configure: cmake ${cfg[*]} (limit $lim s)"
  s=$(date +%s)
  with_timeout "$lim" cmake "${cfg[@]}" >> "$out/configure.txt" 2>&1
  rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 25 "$out/configure.txt"
    step_failed configure "$(why_failed "$rc" "$lim")"
    skip_after configure "configure failed"
    return
  fi
  step_ok configure "$(($(date +%s) - s)) s"

  current_step=build
  lim=$(step_limit 300)
  if [ "$lim" = 0 ]; then step_failed build "not run: time budget spent"; skip_after build "build not run"; return; fi
  echo "== build (limit $lim s)"
  s=$(date +%s)
  with_timeout "$lim" cmake --build "$build" -j "$(nproc)" > "$out/build.txt" 2>&1
  rc=$?
  if [ "$rc" != 0 ]; then
    grep -E "error|Error" "$out/build.txt" | head -n 25
    step_failed build "$(why_failed "$rc" "$lim")"
    skip_after build "build failed"
    return
  fi
  step_ok build "$(($(date +%s) - s)) s"
  bin=$build

  # Every test (or AFSIM_GPU_CHECK_TESTS), the CUDA ones required to run.
  current_step=tests
  local targs=(--jobs 4 --verbose)
  [ -z "${AFSIM_GPU_CHECK_TESTS:-}" ] || targs+=(--filter "$AFSIM_GPU_CHECK_TESTS")
  lim=$(step_limit 240)
  if [ "$lim" = 0 ]; then
    step_failed tests "not run: time budget spent"
  else
    echo "== tests: afsim_tests ${targs[*]} (AFSIM_REQUIRE_GPU=1 CUDA_LAUNCH_BLOCKING=1, limit $lim s)"
    s=$(date +%s)
    run_bin "$lim" AFSIM_REQUIRE_GPU=1 CUDA_LAUNCH_BLOCKING=1 "$bin/afsim_tests" "${targs[@]}" > "$out/tests.txt" 2>&1
    rc=$?
    # Failures with their assertion messages, skips, the synthesis.
    { grep -E '^\[(FAIL|WARN)|^\[SKIP\] [a-z_]+::|^\[----\] +[^ ]|Synthesis' "$out/tests.txt" || true; } |
      grep -vE 'Test is disabled|Criterion v' | head -n 60
    synth=$(criterion_synthesis "$out/tests.txt")
    read -r p f a < <(parity_counts "$out/tests.txt")
    parity="$p passed, $f failed, $a skipped"
    if [ "$rc" != 0 ]; then
      step_failed tests "$(why_failed "$rc" "$lim")${synth:+; $synth}"
    elif [ -z "$synth" ]; then
      step_failed tests "no Criterion synthesis"
    elif [ "$a" != 0 ]; then
      step_failed tests "$a CUDA parity tests skipped: no usable device?; $synth"
    elif [[ $synth == *"Tested: 0 "* ]]; then
      step_failed tests "no test ran; $synth"
    else
      step_ok tests "$synth; $(($(date +%s) - s)) s"
    fi
  fi

  # Benchmarks: CUDA environment, CUDA networks, this machine's CPU.
  bench benchmark_env bench_env.txt 150 cuda_env_bench --envs 1024 --repeats 1 -- \
    cuda_env_bench --envs 1024,8192,32768 --repeats 5
  bench benchmark_nn bench_nn.txt 90 nn_bench --backend cuda --repeats 1 --max-batch 4096 -- \
    nn_bench --backend cuda --repeats 5
  bench benchmark_train bench_train.txt 90 train_bench --backend cuda --envs 1024 --episodes 1 \
    --slots 5 -- train_bench --backend cuda --envs 1024 --episodes 2 --slots 10
  bench benchmark_cpu bench_cpu.txt 60 env_bench --envs 64 --episodes 1 --policy greedy -- \
    env_bench --envs 64,1024 --episodes 2 --policy greedy

  # compute-sanitizer over small CUDA parity tests. Criterion runs each test
  # in a child process, which the sanitizer follows (--target-processes all).
  current_step=memcheck
  sanitizer=$(find_sanitizer "$tk")
  declare -gA san_errors=() san_runs=() san_warnings=() san_problems=()
  if [ -z "$sanitizer" ]; then
    for a in memcheck racecheck; do
      step_failed "$a" "compute-sanitizer not found (PATH, beside nvcc, COMPUTE_SANITIZER): no ERROR SUMMARY, not 0 errors"
    done
    return
  fi
  echo "== compute-sanitizer: $sanitizer"
  for a in "${sanitizer_runs[@]}"; do
    read -r current_step lim f <<< "$a"
    run_sanitizer "$current_step" "$f" "$lim"
  done
  sanitizer_row memcheck
  sanitizer_row racecheck
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
