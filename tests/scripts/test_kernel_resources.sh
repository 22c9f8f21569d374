#!/usr/bin/env bash
# A check of the built CUDA objects that needs no GPU:
# - every kernel of kernels/cuda compiles for sm_90 without register spills
#   or a stack frame (local memory is slow), and the environment step
#   (k_step, k_play_slot) stays within the 80 registers that
#   __launch_bounds__(256, ENV_MIN_BLOCKS = 3) asks for, so three 256-thread
#   blocks fit on a multiprocessor (docs/performance.md, "Registers and
#   occupancy"); ENV_MIN_BLOCKS=4 from the build caps it at 64;
# - bit-exactness with the CPU: the PTX of the environment's kernels
#   (env_kernels.cu) and of the communication groups' (groups_cuda.cu) holds
#   no fused multiply-add (fma.), no approximate instruction (.approx: fast
#   intrinsics such as __expf) and no flush of subnormals to zero (.ftz);
#   the same file compiled with nvcc's default contraction must be caught
#   (the check's own control);
# - CMake gives every CUDA file of every target --fmad=false (the
#   benchmarks too), and env_kernels.cu the AFSIM_ENV_MIN_BLOCKS it was
#   configured with, and refuses a value outside 1..8 (a configure into a
#   temporary folder, read from its compile_commands.json).
# Prints the resource report it read. Needs nvcc, cmake and /usr/bin/python3;
# about a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
command -v nvcc >/dev/null || { echo "test_kernel_resources: no nvcc" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# The flags of the build (CMakeLists.txt): Release, no FMA contraction.
flags=(-arch=sm_90 -O3 -DNDEBUG --fmad=false -I"$root")

# resources SRC [NVCC FLAGS...]: one line per kernel of SRC into
# $tmp/kernels.txt: name, registers, stack, spill stores. Fails when SRC
# has kernels whose report cannot be read; an empty file when it has none.
resources() {
  local src=$1
  shift
  nvcc "${flags[@]}" "$@" -Xptxas -v -c "$src" -o "$tmp/k.o" >"$tmp/report.txt" 2>&1 ||
    { cat "$tmp/report.txt"; exit 1; }
  awk '/Compiling entry function/ { name = $0; sub(/.*function .\x27?/, "", name); sub(/\x27.*/, "", name) }
       /bytes stack frame/ { stack = $1; spill = $5 }
       /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) if ($i == "Used") regs = $(i + 1);
                                 print name, regs, stack, spill }' "$tmp/report.txt" >"$tmp/kernels.txt"
  if grep -q "Compiling entry function" "$tmp/report.txt" && ! [ -s "$tmp/kernels.txt" ]; then
    echo "cannot read the report of $src"
    cat "$tmp/report.txt"
    exit 1
  fi
}

for src in "$root"/kernels/cuda/*.cu; do
  resources "$src"
  kernels=$((${kernels:-0} + $(wc -l <"$tmp/kernels.txt")))
  while read -r name regs stack spill; do
    printf '%-40s %3s registers, %s bytes stack, %s bytes spilled\n' "$name" "$regs" "$stack" "$spill"
    if [ "$stack" != 0 ] || [ "$spill" != 0 ]; then echo "  FAIL: $name spills to local memory"; fail=1; fi
    case "$name" in
      *k_step*|*k_play_slot*)
        if [ "$regs" -gt 80 ]; then echo "  FAIL: $name uses $regs registers, over 80"; fail=1; fi ;;
    esac
  done <"$tmp/kernels.txt"
done
[ "${kernels:-0}" -gt 0 ] || { echo "no kernels found in kernels/cuda"; exit 1; }

# ENV_MIN_BLOCKS=4, as bench/gpu_run.sh --min-blocks 4 builds it: 64 registers at most.
resources "$root/kernels/cuda/env_kernels.cu" -DENV_MIN_BLOCKS=4
steps=$(awk '$1 ~ /k_step|k_play_slot/' "$tmp/kernels.txt")
if [ -z "$steps" ]; then echo "  FAIL: no k_step or k_play_slot in the report"; fail=1; fi
while read -r name regs _; do
  if [ "$regs" -gt 64 ]; then echo "  FAIL: ENV_MIN_BLOCKS=4: $name uses $regs registers, over 64"; fail=1; fi
done <<<"$steps"
[ "$fail" != 0 ] || echo "ENV_MIN_BLOCKS=4: the step within 64 registers"

# fast_math_in PTX: the lines that bit-exactness forbids (at most 5).
fast_math_in() { grep -nE '(^|[^a-z_.])fma\.|\.approx|\.ftz' "$1" | head -n 5 || true; }
for src in env_kernels.cu groups_cuda.cu; do
  nvcc "${flags[@]}" -ptx "$root/kernels/cuda/$src" -o "$tmp/k.ptx"
  found=$(fast_math_in "$tmp/k.ptx")
  if [ -n "$found" ]; then
    echo "  FAIL: $src's PTX has fma., .approx or .ftz (the CPU's roundings are lost):"
    echo "$found"
    fail=1
  fi
done
nvcc "${flags[@]/--fmad=false/--fmad=true}" -ptx "$root/kernels/cuda/env_kernels.cu" -o "$tmp/fmad.ptx"
if [ -z "$(fast_math_in "$tmp/fmad.ptx")" ]; then
  echo "  FAIL: the PTX check does not see the fma. of env_kernels.cu compiled with --fmad=true"
  fail=1
fi
[ "$fail" != 0 ] || echo "PTX of env_kernels.cu and groups_cuda.cu: no fma., .approx or .ftz"

# The build's own flags, from a configure (no build) with ENV_MIN_BLOCKS 4.
if ! cmake -S "$root" -B "$tmp/cfg" -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON \
     -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DAFSIM_ENV_MIN_BLOCKS=4 >"$tmp/cfg.txt" 2>&1; then
  cat "$tmp/cfg.txt"
  echo "  FAIL: configure with CUDA"
  exit 1
fi
if ! /usr/bin/python3 - "$tmp/cfg/compile_commands.json" <<'EOF'; then fail=1; fi
import json, sys
cmds = [c for c in json.load(open(sys.argv[1])) if c["file"].endswith(".cu")]
bad = [c["file"] for c in cmds if "--fmad=false" not in c["command"].split()]
env = [c for c in cmds if c["file"].endswith("kernels/cuda/env_kernels.cu")]
bench = [c for c in cmds if c["file"].endswith("bench/cuda_env_bench.cu")]
ok = True
if not bench or not env:
    print("  FAIL: no compile command for cuda_env_bench.cu or env_kernels.cu")
    ok = False
for f in bad:
    print(f"  FAIL: {f} is compiled without --fmad=false")
    ok = False
if env and "-DENV_MIN_BLOCKS=4" not in env[0]["command"].split():
    print("  FAIL: env_kernels.cu is compiled without -DENV_MIN_BLOCKS=4 (AFSIM_ENV_MIN_BLOCKS=4)")
    ok = False
if ok:
    print(f"the build's {len(cmds)} CUDA files: every one with --fmad=false, env_kernels.cu with ENV_MIN_BLOCKS=4")
sys.exit(0 if ok else 1)
EOF
if cmake -S "$root" -B "$tmp/bad" -DAFSIM_CUDA=OFF -DAFSIM_ENV_MIN_BLOCKS=9 >"$tmp/bad.txt" 2>&1 ||
   ! grep -q "AFSIM_ENV_MIN_BLOCKS=9" "$tmp/bad.txt"; then
  cat "$tmp/bad.txt"
  echo "  FAIL: AFSIM_ENV_MIN_BLOCKS=9 is not refused with its value"
  fail=1
else
  echo "AFSIM_ENV_MIN_BLOCKS=9: refused by CMake"
fi

[ "$fail" = 0 ] && echo "kernel resources: ok ($kernels kernels)"
exit "$fail"
