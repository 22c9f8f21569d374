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
# A GPU machine without package registries gets the dependencies from
# gpu-deps/ (made by bench/gpu_bundle.sh on a development machine, carried).
deps=()
# cuDNN: the toolkit's own, or the nvidia-cudnn Python package's (asked
# before gpu-deps/lib is on the library path, so Python loads its own).
cudnn=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null || true)
if [ -n "$cudnn" ] && [ -f "$cudnn/include/cudnn.h" ]; then
  deps+=(-DAFSIM_CUDNN_DIR="$cudnn")
  export LD_LIBRARY_PATH="$cudnn/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -d "$root/gpu-deps" ]; then
  deps+=(-DAFSIM_DEPS_DIR="$root/gpu-deps")
  [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || deps+=(-DAFSIM_BLAS=OFF)
  export LD_LIBRARY_PATH="$root/gpu-deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
elif ! [ -f /usr/include/Random123/philox.h ]; then
  bash "$root/cmake/install-deps.sh" || { echo "no gpu-deps/ and cannot install: run bench/gpu_bundle.sh and carry gpu-deps"; exit 1; }
fi
rm -rf "$root/build-gpu"
cmake -S "$root" -B "$root/build-gpu" -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 "${deps[@]}" > "$out/configure.txt" 2>&1 ||
  { tail -20 "$out/configure.txt"; echo "configure failed"; exit 1; }
cmake --build "$root/build-gpu" -j "$(nproc)" > "$out/build.txt" 2>&1 ||
  { grep -E "error" "$out/build.txt" | head -20; echo "build failed"; exit 1; }
bin="$root/build-gpu"

echo "== tests"
"$bin/afsim_tests" --jobs 4 --verbose > "$out/tests.txt" 2>&1
grep -E "^\[(FAIL|SKIP|WARN)|Synthesis" "$out/tests.txt" | head -40
synth=$(grep Synthesis "$out/tests.txt" | tail -1 | sed 's/.*Synthesis: //')
parity="$(grep -cE 'PASS.*cuda_(nn_)?parity' "$out/tests.txt" || true) passed, $(grep -cE 'FAIL.*cuda_(nn_)?parity' "$out/tests.txt" || true) failed, $(grep -cE 'SKIP.*cuda_(nn_)?parity' "$out/tests.txt" || true) skipped"

echo "== CUDA environment benchmark"
timeout 240 "$bin/cuda_env_bench" --envs 1024,8192,32768 --repeats 5 | tee "$out/cuda_env_bench.txt"
echo "== CUDA network benchmark (forward + backward)"
timeout 120 "$bin/nn_bench" --backend cuda --repeats 5 | tee "$out/cuda_nn_bench.txt"
echo "== CPU environment benchmark (this machine's CPU, for reference)"
timeout 120 "$bin/env_bench" --envs 64,1024 --episodes 2 --policy greedy | tee "$out/cpu_env_bench.txt"

echo
echo "== summary ($(($(date +%s) - start)) s)"
echo "card:            $card"
echo "all tests:       ${synth:-none}"
echo "cuda parity:     ${parity:-none}"
grep -h "batch=65536" "$out/cuda_nn_bench.txt" | sed -E 's/nn backend=cuda net=([a-z_]+) batch=([0-9]+) samples_per_s=([^ ]+) gflops=([^ ]+)/nn    \1 B=\2: \3 samples\/s, \4 GFLOP\/s/'
grep -h "agent_steps_per_s" "$out/cuda_env_bench.txt" "$out/cpu_env_bench.txt" |
  sed -E 's/.*backend=([a-z]+) E=([0-9]+).*agent_steps_per_s=([^ ]+)( .*fraction_of_floor=([^ ]+))?.*/\1  E=\2  \3 agent-steps\/s  \5/' |
  awk '{printf "%-5s %-8s %12s %s %s\n", $1, $2, $3, $4, ($5 != "" ? "of bandwidth floor: " $5 : "")}'
