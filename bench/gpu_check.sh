#!/usr/bin/env bash
# The first command of a session lent a GPU: builds with CUDA, runs every test
# (the CUDA parity tests included, verbosely), every CUDA benchmark and the CPU
# benchmark for reference, and ends with a short table. Needs no network; must
# finish well under 8 minutes on an H100. Output also goes to $OUT when set.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
log="$out/gpu_check.log"
exec > >(tee "$log") 2>&1

card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi")
echo "card: $card"
start=$(date +%s)

if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
missing=0
for h in /usr/include/Random123/philox.h /usr/include/ini.h /usr/include/criterion/criterion.h; do
  [ -f "$h" ] || missing=1
done
if [ $missing = 1 ] || ! pkg-config --exists hdf5; then bash "$root/cmake/install-deps.sh"; fi
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null || { echo "configure failed"; exit 1; }
cmake --build "$root/build" -j "$(nproc)" 2>&1 | grep -E "error|warning" || true
[ -x "$root/build/afsim_tests" ] && [ -x "$root/build/cuda_env_bench" ] || { echo "build failed"; exit 1; }

echo "== tests"
"$root/build/afsim_tests" --jobs 4 --verbose > "$out/tests.txt" 2>&1
grep -E "^\[(FAIL|SKIP|WARN)|Synthesis" "$out/tests.txt" | head -40
synth=$(grep Synthesis "$out/tests.txt" | tail -1 | sed 's/.*Synthesis: //')
parity="$(grep -c 'PASS.*cuda_parity' "$out/tests.txt" || true) passed, $(grep -c 'FAIL.*cuda_parity' "$out/tests.txt" || true) failed, $(grep -c 'SKIP.*cuda_parity' "$out/tests.txt" || true) skipped"

echo "== CUDA environment benchmark"
timeout 240 "$root/build/cuda_env_bench" --envs 1024,8192,32768 --repeats 5 | tee "$out/cuda_env_bench.txt"
echo "== CPU environment benchmark (this machine's CPU, for reference)"
timeout 120 "$root/build/env_bench" --envs 64,1024 --episodes 2 --policy greedy | tee "$out/cpu_env_bench.txt"

echo
echo "== summary ($(($(date +%s) - start)) s)"
echo "card:            $card"
echo "all tests:       ${synth:-none}"
echo "cuda parity:     ${parity:-none}"
grep -h "agent_steps_per_s" "$out/cuda_env_bench.txt" "$out/cpu_env_bench.txt" |
  sed -E 's/.*backend=([a-z]+) E=([0-9]+).*agent_steps_per_s=([^ ]+)( .*fraction_of_floor=([^ ]+))?.*/\1  E=\2  \3 agent-steps\/s  \5/' |
  awk '{printf "%-5s %-8s %12s %s %s\n", $1, $2, $3, $4, ($5 != "" ? "of bandwidth floor: " $5 : "")}'
