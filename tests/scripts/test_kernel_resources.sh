#!/usr/bin/env bash
# A check of the built CUDA objects that needs no GPU: every kernel of
# kernels/cuda compiles for sm_90 without register spills or a stack frame
# (local memory is slow), and the environment step (k_step, k_play_slot)
# stays within the 80 registers that __launch_bounds__(256, 3) asks for, so
# three 256-thread blocks fit on a multiprocessor (docs/performance.md,
# "Registers and occupancy"). Prints the resource report it read.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
command -v nvcc >/dev/null || { echo "test_kernel_resources: no nvcc" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for src in "$root"/kernels/cuda/*.cu; do
  # The flags of the build (CMakeLists.txt): Release, no FMA contraction.
  nvcc -arch=sm_90 -O3 -DNDEBUG --fmad=false -Xptxas -v -I"$root" -c "$src" -o "$tmp/k.o" \
    >"$tmp/report.txt" 2>&1 || { cat "$tmp/report.txt"; exit 1; }
  # One line per kernel: name, registers, stack, spill stores.
  awk '/Compiling entry function/ { name = $0; sub(/.*function .\x27?/, "", name); sub(/\x27.*/, "", name) }
       /bytes stack frame/ { stack = $1; spill = $5 }
       /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) if ($i == "Used") regs = $(i + 1);
                                 print name, regs, stack, spill }' "$tmp/report.txt" >"$tmp/kernels.txt"
  grep -q "Compiling entry function" "$tmp/report.txt" || continue # no kernels in this file
  [ -s "$tmp/kernels.txt" ] || { echo "cannot read the report of $src"; cat "$tmp/report.txt"; exit 1; }
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
[ "$fail" = 0 ] && echo "kernel resources: ok ($kernels kernels)"
exit "$fail"
