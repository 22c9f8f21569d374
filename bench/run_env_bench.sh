#!/usr/bin/env bash
# Environment-step throughput of afsim's CPU backend beside the NumPy peer
# (bench/env_numpy.py: the same model, vectorized over environments and
# agents), timed in the same run on the same machine, at M = 150 agents.
# Prints both in agent-steps/s (one agent deciding for one slot) and their
# ratio. Usage: bash bench/run_env_bench.sh [policy] (default greedy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
policy=${1:-greedy}
bash "$root/cmake/install-deps.sh"
bash "$root/cmake/build.sh" >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-6s %-8s %16s %16s %8s\n' E policy afsim_cpu numpy ratio
for envs in 64 1024; do
  episodes=5; [ "$envs" -ge 1024 ] && episodes=3
  c=$("$root/build/env_bench" --envs "$envs" --agents 150 --episodes "$episodes" --policy "$policy" \
      | sed -n 's/.*agent_steps_per_s=\([0-9.e+]*\).*/\1/p')
  np=$(/usr/bin/python3 "$root/bench/env_numpy.py" --envs "$envs" --agents 150 --episodes 2 \
       --policy "${policy/_/}" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_steps_per_s"])')
  ratio=$(/usr/bin/python3 -c "print(f'{$c/$np:.1f}x')")
  printf '%-6s %-8s %16.4g %16.4g %8s\n' "$envs" "$policy" "$c" "$np" "$ratio"
done
