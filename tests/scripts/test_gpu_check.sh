#!/usr/bin/env bash
# Checks bench/gpu_check.sh and bench/gpu_bundle.sh on a machine without a
# GPU: the discovery of cuDNN and cuBLAS on fake layouts, the run-time
# library path of afsim's binaries, the sanitizer bookkeeping with a fake
# compute-sanitizer, the Criterion filters of the sanitizer runs against the
# real test binary, the bundle, and the whole check end to end (a quick
# variant: one test, short benchmarks), which must fail without a GPU and
# still print its table. Needs nvcc, cmake and the Debian packages (as
# tests/run.sh installs them); takes about a minute.
# The functions and variables of bench/gpu_check.sh are shared by sourcing it:
# shellcheck disable=SC2034,SC2154
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*" >&2
  exit 1
}
# expect_eq WHAT GOT EXPECTED
expect_eq() {
  if [ "$2" != "$3" ]; then fail "$1: got '$2', expected '$3'"; fi
  ok "$1"
}

# shellcheck source=/dev/null
source "$root/bench/gpu_check.sh"

echo "gpu_check: cuDNN found by the Python package's __path__"
empty_tk=$tmp/empty-toolkit
mkdir -p "$empty_tk/include" "$empty_tk/lib64"
pkg=$tmp/py-cudnn/nvidia/cudnn
mkdir -p "$pkg/include" "$pkg/lib"
touch "$pkg/include/cudnn.h" "$pkg/lib/libcudnn.so.9"
# No __init__.py: a namespace package, whose __file__ is None.
expect_eq "the fake nvidia.cudnn is a namespace package" \
  "$(PYTHONPATH=$tmp/py-cudnn python3 -c 'import nvidia.cudnn as m; print(m.__file__)')" None
got=$(PYTHONPATH=$tmp/py-cudnn find_cudnn_dir "$empty_tk") || fail "find_cudnn_dir failed with a valid package"
expect_eq "a toolkit without cuDNN: the package's folder" "$got" "$pkg"
mkdir -p "$tmp/py-nohdr/nvidia/cudnn/lib"
touch "$tmp/py-nohdr/nvidia/cudnn/lib/libcudnn.so.9"
if got=$(PYTHONPATH=$tmp/py-nohdr find_cudnn_dir "$empty_tk"); then fail "a package without cudnn.h was accepted ('$got')"; fi
expect_eq "a package without include/cudnn.h is rejected" "$got" ""
tk_cudnn=$tmp/toolkit-cudnn
mkdir -p "$tk_cudnn/include" "$tk_cudnn/lib64"
touch "$tk_cudnn/include/cudnn.h" "$tk_cudnn/lib64/libcudnn.so.9"
got=$(PYTHONPATH=$tmp/py-cudnn find_cudnn_dir "$tk_cudnn") || fail "find_cudnn_dir failed with the toolkit's cuDNN"
expect_eq "the toolkit's own cuDNN wins over the package (nothing to pass)" "$got" ""

echo "gpu_check: cuBLAS with versioned names only"
tk=$tmp/toolkit-versioned
mkdir -p "$tk/lib64"
touch "$tk/lib64/libcublas.so.13" "$tk/lib64/libcublasLt.so.13" "$tk/lib64/libcudart.so"
got=$(AFSIM_GPU_CHECK_PYTHON=false cublas_cmake_args "$tk" | paste -sd ' ')
expect_eq "lib64 with libcublas.so.13 and libcublasLt.so.13 only" "$got" \
  "-DCUDA_cublas_LIBRARY=$tk/lib64/libcublas.so.13 -DCUDA_cublasLt_LIBRARY=$tk/lib64/libcublasLt.so.13"
tk2=$tmp/toolkit-targets
mkdir -p "$tk2/targets/x86_64-linux/lib"
l=$tk2/targets/x86_64-linux/lib
touch "$l/libcublas.so.13" "$l/libcublas.so.13.0.2.14" "$l/libcublasLt.so.13" "$l/libcudart.so.13"
got=$(AFSIM_GPU_CHECK_PYTHON=false cublas_cmake_args "$tk2" | paste -sd ' ')
expect_eq "targets/x86_64-linux/lib, cudart versioned too" "$got" \
  "-DCUDA_cublas_LIBRARY=$l/libcublas.so.13.0.2.14 -DCUDA_cublasLt_LIBRARY=$l/libcublasLt.so.13 -DCUDA_cudart_LIBRARY=$l/libcudart.so.13 -DCUDA_CUDART=$l/libcudart.so.13"
tk3=$tmp/toolkit-unversioned
mkdir -p "$tk3/lib64"
touch "$tk3/lib64/libcublas.so" "$tk3/lib64/libcublas.so.13" "$tk3/lib64/libcublasLt.so" "$tk3/lib64/libcudart.so"
got=$(AFSIM_GPU_CHECK_PYTHON=false cublas_cmake_args "$tk3" | paste -sd ' ')
expect_eq "a toolkit with libcublas.so gives no arguments" "$got" ""
pycu=$tmp/py-cu13/nvidia/cu13/lib
mkdir -p "$pycu"
touch "$pycu/libcublas.so.13" "$pycu/libcublasLt.so.13"
got=$(PYTHONPATH=$tmp/py-cu13 cublas_cmake_args "$empty_tk" | paste -sd ' ')
expect_eq "no cuBLAS in the toolkit: the nvidia.cu13 package's, by __path__" "$got" \
  "-DCUDA_cublas_LIBRARY=$pycu/libcublas.so.13 -DCUDA_cublasLt_LIBRARY=$pycu/libcublasLt.so.13"

nvcc_path=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
real_tk=$(toolkit_root "$nvcc_path")
mapfile -t real_libdirs < <(toolkit_lib_dirs "$real_tk")
real_cublas=$(newest_versioned libcublas "${real_libdirs[@]}")
if [ -n "$real_cublas" ] && command -v cmake >/dev/null; then
  # The cache variables' names, against this cmake's FindCUDAToolkit: a
  # toolkit lib folder with only versioned links to the real libraries.
  vtk=$tmp/toolkit-links
  mkdir -p "$vtk/lib64" "$tmp/cmake-probe"
  ln -s "$real_cublas" "$vtk/lib64/libcublas.so.13"
  ln -s "$(newest_versioned libcublasLt "${real_libdirs[@]}")" "$vtk/lib64/libcublasLt.so.13"
  cat > "$tmp/cmake-probe/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.22)
project(probe LANGUAGES C)
find_package(CUDAToolkit REQUIRED)
foreach(t cublas cublasLt)
  get_target_property(loc CUDA::${t} IMPORTED_LOCATION)
  message(STATUS "probe ${t}=${loc}")
endforeach()
EOF
  mapfile -t args < <(AFSIM_GPU_CHECK_PYTHON=false cublas_cmake_args "$vtk")
  PATH="$(dirname "$nvcc_path"):$PATH" cmake -S "$tmp/cmake-probe" -B "$tmp/cmake-probe/b" "${args[@]}" > "$tmp/probe.txt" 2>&1 ||
    { cat "$tmp/probe.txt"; fail "cmake probe"; }
  expect_eq "FindCUDAToolkit takes CUDA_cublas_LIBRARY" "$(grep -o 'probe cublas=.*' "$tmp/probe.txt")" "probe cublas=$vtk/lib64/libcublas.so.13"
  expect_eq "FindCUDAToolkit takes CUDA_cublasLt_LIBRARY" "$(grep -o 'probe cublasLt=.*' "$tmp/probe.txt")" "probe cublasLt=$vtk/lib64/libcublasLt.so.13"
fi

echo "gpu_check: run_bin sets the library path for its command alone"
bin_libdirs=("$tmp/gpu-deps/lib" "$pkg/lib")
before=${LD_LIBRARY_PATH-unset}
got=$(LD_LIBRARY_PATH=/opt/x run_bin 10 printenv LD_LIBRARY_PATH)
expect_eq "gpu-deps/lib and cuDNN first, then the caller's path" "$got" "$tmp/gpu-deps/lib:$pkg/lib:/opt/x"
got=$(unset LD_LIBRARY_PATH; run_bin 10 printenv LD_LIBRARY_PATH)
expect_eq "no caller's path: no trailing colon" "$got" "$tmp/gpu-deps/lib:$pkg/lib"
expect_eq "the caller's LD_LIBRARY_PATH is unchanged" "${LD_LIBRARY_PATH-unset}" "$before"
expect_eq "VAR=VALUE reaches the command" "$(run_bin 10 AFSIM_REQUIRE_GPU=1 printenv AFSIM_REQUIRE_GPU)" 1
rc=0
run_bin 1 sleep 20 || rc=$?
expect_eq "the time limit stops the command (exit 124)" "$rc" 124
expect_eq "a stop by the limit is reported as such" "$(why_failed 124 240)" "timed out after 240 s"

echo "gpu_check: compute-sanitizer summaries"
printf '%s\n' '========= ERROR SUMMARY: 0 errors' 'x' '========= ERROR SUMMARY: 2 errors' '========= ERROR SUMMARY: 1 error' > "$tmp/m.txt"
expect_eq "memcheck: errors summed over the summaries" "$(sanitizer_errors memcheck "$tmp/m.txt")" "3 3 0"
printf '%s\n' 'no summary at all' > "$tmp/none.txt"
expect_eq "no summary: 0 summaries (not 0 errors)" "$(sanitizer_errors memcheck "$tmp/none.txt")" "0 0 0"
printf '%s\n' '========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)' \
  '========= RACECHECK SUMMARY: 3 hazards displayed (0 errors, 3 warnings)' > "$tmp/r.txt"
expect_eq "racecheck: its own summary lines" "$(sanitizer_errors racecheck "$tmp/r.txt")" "1 2 3"

echo "gpu_check: the CUDA tests counted in the table"
printf '%s\n' '[PASS] cuda_parity::a: (0.10s)' '[SKIP] cuda_nn_parity::b: no usable CUDA device' \
  '[FAIL] run::cuda_c: (0.20s)' '[PASS] run::d_on_the_cpu: (0.10s)' '[SKIP] amdrl::cuda_e: Test is disabled' \
  '[PASS] amdrl::cuda_f: (0.10s)' '[SKIP] run on CUDA skipped: no device' > "$tmp/p.txt"
expect_eq "the parity suites and every suite's cuda_* tests, passed failed skipped" \
  "$(parity_counts "$tmp/p.txt")" "2 1 1"

# run_sanitizer with a fake compute-sanitizer and a fake test binary.
fake=$tmp/fake
mkdir -p "$fake"
cat > "$fake/compute-sanitizer" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" > "$fake/args"
printf '%s\n' "\${AFSIM_REQUIRE_GPU:-unset} \${LD_LIBRARY_PATH:-unset}" > "$fake/env"
while [ "\$1" != "$fake/afsim_tests" ]; do shift; done
"\$@"
rc=\$?
[ -z "\${FAKE_SUMMARY:-}" ] || echo "========= ERROR SUMMARY: \$FAKE_SUMMARY"
exit \$rc
EOF
cat > "$fake/afsim_tests" <<'EOF'
#!/usr/bin/env bash
echo "[====] Synthesis: Tested: 2 | Passing: 2 | Failing: 0 | Crashing: 0 "
EOF
chmod +x "$fake/compute-sanitizer" "$fake/afsim_tests"
sanitizer=$fake/compute-sanitizer bin=$fake work=$tmp out=$tmp deadline=$(($(date +%s) + 100))
bin_libdirs=("$tmp/gpu-deps/lib")
declare -A san_errors=() san_runs=() san_warnings=() san_problems=()
FAKE_SUMMARY="0 errors" run_sanitizer memcheck 'cuda_nn_parity/*' 20 > /dev/null
expect_eq "arguments of the sanitizer" "$(cat "$fake/args")" \
  "--tool memcheck --target-processes all $fake/afsim_tests --jobs 1 --verbose --filter cuda_nn_parity/*"
expect_eq "the sanitizer run has AFSIM_REQUIRE_GPU=1 and gpu-deps/lib" "$(cat "$fake/env")" "1 $tmp/gpu-deps/lib"
sanitizer_row memcheck
expect_eq "0 errors: ok" "${step_status[memcheck]}" "ok (0 errors (0 expected), 1 runs)"
FAKE_SUMMARY="2 errors" run_sanitizer racecheck 'cuda_parity/x' 20 > /dev/null
FAKE_SUMMARY="" run_sanitizer racecheck 'cuda_parity/y' 20 > /dev/null
sanitizer_row racecheck
case ${step_status[racecheck]} in
  "FAILED (2 errors (0 expected), 2 runs, 0 warnings; cuda_parity/y: no ERROR SUMMARY printed (exit 0))") ok "errors and a missing summary: FAILED" ;;
  *) fail "racecheck row: ${step_status[racecheck]}" ;;
esac

echo "gpu_bundle: the bundle"
bash "$root/bench/gpu_bundle.sh" "$tmp/gpu-deps" > "$tmp/bundle.txt"
size=$(du -sb "$tmp/gpu-deps" | cut -f1)
[ "$size" -lt $((64 * 1024 * 1024)) ] || fail "the bundle is $size bytes"
ok "under 64 MiB ($((size / 1024 / 1024)) MiB)"
for f in include/Random123/philox.h include/ini.h include/hdf5.h include/criterion/criterion.h \
  lib/libinih.so lib/libhdf5_serial.so lib/libcriterion.so; do
  [ -f "$tmp/gpu-deps/$f" ] || fail "the bundle lacks $f"
done
ok "headers and link-time libraries are there"
for f in "$tmp/gpu-deps/lib"/*; do
  if [[ ${f##*/} =~ ^(libc|libstdc\+\+|libcudart|libcublas|libcublasLt|libcudnn|libopenblas)\.so ]]; then
    fail "the bundle has ${f##*/}, which the GPU machine has its own of"
  fi
done
ok "no C library, libstdc++, CUDA, cuBLAS, cuDNN or OpenBLAS in it"

echo "gpu_check: the whole check, quick variant, no GPU"
shim=$tmp/shim
mkdir -p "$shim"
envlog=$tmp/env.log
: > "$envlog"
real_cmake=$(command -v cmake)
real_python=$(command -v python3)
for p in cmake:"$real_cmake" python3:"$real_python"; do
  # shellcheck disable=SC2016
  printf '#!/bin/sh\necho "%s LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >> "%s"\nexec "%s" "$@"\n' \
    "${p%%:*}" "$envlog" "${p#*:}" > "$shim/${p%%:*}"
  chmod +x "$shim/${p%%:*}"
done
san_env=()
if command -v compute-sanitizer >/dev/null || [ -x "$real_tk/bin/compute-sanitizer" ]; then
  san_env=(COMPUTE_SANITIZER="$tmp/no-such/compute-sanitizer")
fi
t0=$(date +%s)
rc=0
env PATH="$shim:$PATH" OUT="$tmp/out" AFSIM_GPU_DEPS="$tmp/gpu-deps" AFSIM_GPU_CHECK_BUILD_DIR="$tmp/build" \
  AFSIM_GPU_CHECK_QUICK=1 AFSIM_GPU_CHECK_TESTS='cuda_parity/fused_slots_greedy_small' \
  AFSIM_GPU_CHECK_PYTHON="$shim/python3" "${san_env[@]}" \
  timeout 600 bash "$root/bench/gpu_check.sh" > "$tmp/stdout.txt" 2>&1 || rc=$?
took=$(($(date +%s) - t0))
sed -n '/^== summary/,$p' "$tmp/stdout.txt"
[ "$rc" != 124 ] || fail "the check did not finish in 600 s"
[ "$rc" != 0 ] || fail "the check passed on a machine without a GPU"
ok "exit status $rc after $took s"
grep -q '^== summary' "$tmp/stdout.txt" || fail "no summary table"
row() { grep -E "^$1: " "$tmp/stdout.txt" | tail -n 1 | sed -E "s/^$1: +//"; }
for label in card toolkit cuDNN cuBLAS "library path" generator dependencies configure build tests \
  cuda_env_bench "nn_bench cuda" "env_bench cpu" memcheck racecheck result; do
  [ -n "$(row "$label")" ] || fail "no row '$label' in the table"
done
ok "a row for every step"
for label in dependencies configure build "env_bench cpu"; do
  [[ $(row "$label") == ok* ]] || fail "$label: $(row "$label")"
done
ok "dependencies (the bundle), configure, build and the CPU benchmark: ok"
grep -qE '^cpu +E=64 +[0-9.e+]+ agent-steps/s' "$tmp/stdout.txt" || fail "no CPU benchmark figure in the table"
ok "the CPU benchmark's figure is in the table"
if ! nvidia-smi -L > /dev/null 2>&1; then
  [[ $(row tests) == FAILED* ]] || fail "tests without a GPU: $(row tests)"
  ok "tests FAILED without a GPU: $(row tests)"
  [[ $(row cuda_env_bench) == FAILED* ]] || fail "cuda_env_bench without a GPU: $(row cuda_env_bench)"
  ok "the CUDA benchmark FAILED without a GPU"
fi
for tool in memcheck racecheck; do
  [[ $(row $tool) == "FAILED (compute-sanitizer not found"* ]] || fail "$tool: $(row $tool)"
  [[ $(row result) == *$tool* ]] || fail "$tool is not among the failures: $(row result)"
done
ok "the sanitizer rows say compute-sanitizer is missing, and count as failures"
if command -v ninja >/dev/null; then
  grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$tmp/build/CMakeCache.txt" || fail "not configured with Ninja"
  [ -f "$tmp/build/build.ninja" ] || fail "no build.ninja"
  expect_eq "generator row" "$(row generator)" Ninja
fi
grep -q "^AFSIM_DEPS_DIR:PATH=$tmp/gpu-deps$" "$tmp/build/CMakeCache.txt" || fail "AFSIM_DEPS_DIR is not the bundle"
grep -qE '^CMAKE_CUDA_ARCHITECTURES:[A-Z]+=90$' "$tmp/build/CMakeCache.txt" || fail "not built for sm_90"
ok "configured with the bundle, for sm_90"
[ "$(grep -c '^cmake ' "$envlog")" -ge 2 ] || fail "the cmake shim saw fewer than two calls"
if grep -E '^(cmake|python3) ' "$envlog" | grep -q 'gpu-deps'; then
  grep 'gpu-deps' "$envlog"
  fail "cmake or python ran with gpu-deps on LD_LIBRARY_PATH"
fi
ok "cmake (configure and build, $(grep -c '^cmake ' "$envlog") calls) and python ran without gpu-deps on LD_LIBRARY_PATH"
for f in gpu_check.log configure.txt build.txt tests.txt benchmarks.txt sanitizer.txt; do
  [ -f "$tmp/out/$f" ] || fail "no $f in \$OUT"
done
tail -n 1 "$tmp/out/gpu_check.log" | grep -q '^result:' || fail "gpu_check.log does not end with the table"
ok "six logs in \$OUT, gpu_check.log ending with the table"

echo "gpu_check: the sanitizer runs' Criterion filters, on the real test binary"
for entry in "${sanitizer_runs[@]}"; do
  read -r tool secs filter <<< "$entry"
  suite=${filter%%/*}
  ran=$("$tmp/build/afsim_tests" --verbose --filter "$filter" 2>&1 | sed -n 's/^\[RUN \] //p' | sort | paste -sd ' ')
  case $filter in
    */\*) want=$("$tmp/build/afsim_tests" --list | awk -v s="$suite" '/^[a-z_]+: [0-9]+ tests?$/ {cur = $1} /^[├└]/ && cur == s ":" {print s "::" $2}' | sort | paste -sd ' ') ;;
    */@\(*) names=${filter#*/@(}; names=${names%)}; want=$(tr '|' '\n' <<< "$names" | sed "s/^/$suite::/" | sort | paste -sd ' ') ;;
    *) want="$suite::${filter#*/}" ;;
  esac
  [ -n "$want" ] || fail "no test expected for $filter"
  expect_eq "$tool ($secs s) --filter '$filter' runs exactly the intended tests" "$ran" "$want"
done
echo "gpu_run: commands over the check's build, with its library path and a limit each"
rc=0
# shellcheck disable=SC2016
env OUT="$tmp/run-out" AFSIM_GPU_DEPS="$tmp/gpu-deps" AFSIM_GPU_CHECK_BUILD_DIR="$tmp/build" \
  AFSIM_GPU_CHECK_PYTHON="$shim/python3" AFSIM_GPU_RUN_LIMIT_S=2 \
  bash "$root/bench/gpu_run.sh" 'echo "B=$B"; printenv LD_LIBRARY_PATH' 'sleep 10' 'exit 3' \
  > "$tmp/run.txt" 2>&1 || rc=$?
cat "$tmp/run.txt"
expect_eq "a failed command makes the exit status 1" "$rc" 1
grep -qx "B=$tmp/build" "$tmp/run.txt" || fail "\$B is not the build folder"
grep -q "^$tmp/gpu-deps/lib" "$tmp/run.txt" || fail "the command's LD_LIBRARY_PATH does not start with the bundle"
ok "\$B is the build folder and the bundle is on the command's library path"
grep -q '^== timed out after 2 s$' "$tmp/run.txt" || fail "the limit did not stop 'sleep 10'"
grep -q '^== exit 3$' "$tmp/run.txt" || fail "exit 3 not reported"
ok "a command past its limit and a failing one are reported, and the rest still run"
cmp -s "$tmp/run.txt" "$tmp/run-out/gpu_run.log" || fail "\$OUT/gpu_run.log differs from what was printed"
ok "\$OUT/gpu_run.log holds what was printed"

echo "gpu_run: --min-blocks, one build per value (a fake cmake)"
fakecm=$tmp/fake-cmake
mkdir -p "$fakecm"
# Logs its arguments; a configure (-B DIR) leaves a cache there, as cmake's would.
cat > "$fakecm/cmake" <<'EOF'
#!/usr/bin/env bash
echo "cmake $*" >> "$FAKE_CMAKE_LOG"
for ((i = 1; i < $#; i++)); do
  if [ "${!i}" = -B ]; then j=$((i + 1)); mkdir -p "${!j}"; touch "${!j}/CMakeCache.txt"; fi
done
EOF
chmod +x "$fakecm/cmake"
: > "$tmp/cmake-ab.log"
rc=0
# shellcheck disable=SC2016
env PATH="$fakecm:$PATH" FAKE_CMAKE_LOG="$tmp/cmake-ab.log" AFSIM_GPU_DEPS="$tmp/gpu-deps" \
  AFSIM_GPU_CHECK_BUILD_DIR="$tmp/ab" AFSIM_GPU_CHECK_PYTHON="$shim/python3" \
  bash "$root/bench/gpu_run.sh" --min-blocks 3,4 'echo "B=$B MIN_BLOCKS=$MIN_BLOCKS"' > "$tmp/ab.txt" 2>&1 || rc=$?
expect_eq "--min-blocks 3,4 exits 0" "$rc" 0
for v in 3 4; do
  grep -qx "B=$tmp/ab-min-blocks-$v MIN_BLOCKS=$v" "$tmp/ab.txt" || { cat "$tmp/ab.txt"; fail "no command run against value $v"; }
  conf=$(grep -- "-B $tmp/ab-min-blocks-$v " "$tmp/cmake-ab.log") || fail "no configure of $tmp/ab-min-blocks-$v"
  [[ $conf == *" -DAFSIM_ENV_MIN_BLOCKS=$v"* ]] || fail "configure of value $v: $conf"
  [ "$(grep -o -- ' -S ' <<< "$conf" | wc -l)" = 1 ] || fail "arguments repeated: $conf"
  grep -qx "cmake --build $tmp/ab-min-blocks-$v -j $(nproc)" "$tmp/cmake-ab.log" || fail "no build of value $v"
done
ok "a folder per value, configured with AFSIM_ENV_MIN_BLOCKS, built, and the commands run with \$B and \$MIN_BLOCKS"
rc=0
env PATH="$fakecm:$PATH" FAKE_CMAKE_LOG="$tmp/cmake-ab.log" bash "$root/bench/gpu_run.sh" --min-blocks 3,9 \
  > "$tmp/ab-bad.txt" 2>&1 || rc=$?
expect_eq "--min-blocks 3,9 is refused (exit 2)" "$rc" 2
grep -q "3,9" "$tmp/ab-bad.txt" || fail "the refusal does not name the value: $(cat "$tmp/ab-bad.txt")"
echo "gpu_check: all checks passed"
