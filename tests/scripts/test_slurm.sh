#!/usr/bin/env bash
# Containers and Slurm. First what needs neither a Docker daemon nor Slurm:
# the image's entrypoint (experiments/container.sh) run from this tree with
# build/afsim (the default experiment, afsim's own commands, the plots),
# the revision that a tree without .git records (the image's build
# argument), and the image mode of the Slurm scripts with a fake `docker`
# on PATH that records its arguments (each array task gets only its own
# GPUs; the merge job merges and plots in the image).
# Then a sweep through a real Slurm, end to end: brings up munge, slurmctld and
# slurmd on this machine (a one-node cluster on localhost, in a temporary
# folder, on free ports), submits a small sweep with
# experiments/slurm/submit.sh (a job array of 3 shards and the merge job
# that depends on it), waits for them, checks that the shards covered the
# grid once and that the merged file and the plots are there, and stops
# every daemon on any exit. Needs root and Debian's slurmctld, slurmd,
# slurm-client and munge (`cmake/install-deps.sh --tests`), build/afsim
# (or AFSIM_TEST_BIN), cmake, and /usr/bin/python3 with h5py and
# matplotlib; about a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
afsim=${AFSIM_TEST_BIN:-$root/build/afsim}
tmp=$(mktemp -d)
fail() {
  echo "  FAILED: $*" >&2
  for f in "$tmp"/*.log "$tmp"/out/*.out; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
ok() { echo "  ok: $*"; }
[ -x "$afsim" ] || fail "no $afsim: bash cmake/build.sh"
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_COUNT SLURM_JOB_ID
unset SLURM_JOB_GPUS SLURM_STEP_GPUS CUDA_VISIBLE_DEVICES
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/tiny.ini" <<'INI'
[sweep]
env.agents = 3, 5
methods = greedy, esdrl
seeds = 2
eval_episodes = 1
[run]
envs = 2
[env]
slots = 4
[train]
episodes = 3
warmup = 8
eval_every = 0
replay_mib = 1
[esdrl]
batch = 16
INI

echo "container: the image's entrypoint, from this tree"
c=$tmp/container
mkdir -p "$c"
entry() { AFSIM_BIN=$afsim AFSIM_RESULTS=$c/out bash "$root/experiments/container.sh" "$@"; }
entry default --envs 2 --episodes 1 --set env.agents=6 --set env.slots=3 --quiet > "$c/default.txt" 2>&1 ||
  { cat "$c/default.txt"; fail "the default experiment failed"; }
runs=("$c"/out/runs/default-*.h5)
if ! [ -f "${runs[0]}" ] || ! [ -s "${runs[0]%.h5}.png" ]; then
  fail "no out/runs/default-*.h5 and .png: $(ls -R "$c/out")"
fi
ok "the default experiment (options to afsim run) and its plot, in AFSIM_RESULTS/runs"
entry version | grep -q afsim || fail "'version' did not reach afsim"
entry sweep "$tmp/tiny.ini" --backend cpu --quiet --set sweep.methods=greedy --out "$c/sw" > "$c/sweep.txt" 2>&1 ||
  { cat "$c/sweep.txt"; fail "a sweep through the entrypoint failed"; }
entry merge "$c/sw.h5" "$c"/sw/shard-*.h5 > /dev/null || fail "merge through the entrypoint failed"
ok "afsim's own commands pass through (version, sweep, merge)"
entry plot-figures "$c/sw.h5" -o "$c/sw" --table > "$c/sw.md" 2> "$c/plot.txt" ||
  { cat "$c/plot.txt"; fail "plot-figures failed"; }
if ! grep -q '^| greedy |' "$c/sw.md" || ! [ -s "$c/sw.png" ]; then fail "no table or figure from plot-figures"; fi
entry plot "${runs[0]}" -o "$c/again.png" > /dev/null 2>&1 || fail "plot failed"
[ -s "$c/again.png" ] || fail "no figure from plot"
ok "plot-figures (the merged sweep's table and figure) and plot"
entry help | grep -q 'figures \[--profile' || fail "no usage from 'help'"
ok "help prints the usage"

echo "container: a tree without .git records the revision given to the build"
mkdir -p "$c/src"
tar -C "$root" --exclude=./.git --exclude='./build*' --exclude=./results --exclude=./gpu-deps -cf - . |
  tar -C "$c/src" -xf -
[ ! -e "$c/src/.git" ] || fail "the copy has a .git"
cmake -S "$c/src" -B "$c/b" -DAFSIM_CUDA=OFF -DAFSIM_REVISION=rev-from-arg > "$c/cmake.txt" 2>&1 ||
  { cat "$c/cmake.txt"; fail "configure without .git"; }
flags=$c/b/CMakeFiles/afsim_core.dir/flags.make
grep -qF 'AFS_GIT_REVISION=\"rev-from-arg\"' "$flags" ||
  fail "the revision compiled in is not AFSIM_REVISION's: $(grep -o 'AFS_GIT_REVISION=[^ ]*' "$flags")"
ok "AFSIM_REVISION (the image's build argument) is the revision compiled in"

echo "slurm: image mode with a fake docker"
fake=$tmp/fake
mkdir -p "$fake"
# One line a call, its arguments shell-quoted; plot-figures prints a table
# row as the image's plot script would.
cat > "$fake/docker" <<'SH'
#!/usr/bin/env bash
printf '%q ' "$@" >> "$FAKE_DOCKER_LOG"
echo >> "$FAKE_DOCKER_LOG"
for a in "$@"; do [ "$a" != plot-figures ] || echo "| greedy | 0.9 |"; done
SH
chmod +x "$fake/docker"
export FAKE_DOCKER_LOG=$tmp/docker.log
# sweep_task [VAR=VALUE...]: one array task in image mode; prints docker's call.
sweep_task() {
  : > "$FAKE_DOCKER_LOG"
  env PATH="$fake:$PATH" AFSIM_IMAGE=afsim:test AFSIM_SWEEP="$tmp/tiny.ini" AFSIM_OUT="$tmp/img" \
    AFSIM_BACKEND=cuda SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 "$@" \
    bash "$root/experiments/slurm/sweep.sbatch" > "$tmp/task.txt" 2>&1 ||
    { cat "$tmp/task.txt"; fail "sweep.sbatch failed"; }
  cat "$FAKE_DOCKER_LOG"
}
# printf %q of the argument "device=2" (with its double quotes, which
# docker's CSV reading of --gpus needs for a list).
q() { printf '%q' "$1"; }
line=$(sweep_task SLURM_JOB_GPUS=2 CUDA_VISIBLE_DEVICES=0)
[[ $line == "run --rm --gpus $(q '"device=2"') "* ]] || fail "SLURM_JOB_GPUS=2: $line"
[[ $line != *"--gpus all"* ]] || fail "--gpus all: $line"
ok "the node's index of the task's GPU (SLURM_JOB_GPUS=2; CUDA_VISIBLE_DEVICES=0, renumbered): --gpus \"device=2\""
line=$(sweep_task CUDA_VISIBLE_DEVICES=1,3)
[[ $line == *"--gpus $(q '"device=1,3"') "* ]] || fail "CUDA_VISIBLE_DEVICES=1,3: $line"
ok "without Slurm's list, the task's CUDA_VISIBLE_DEVICES: --gpus \"device=1,3\""
line=$(sweep_task)
[[ $line != *--gpus* ]] || fail "no GPU allocated, yet: $line"
grep -q "no GPU allocated" "$tmp/task.txt" || fail "no word about running without a GPU"
ok "no GPU allocated: no --gpus, and a word on stderr"
for want in "--user $(id -u):$(id -g)" "-v $tmp:$tmp:ro" "-v $tmp/img:$tmp/img" "-e SLURM_ARRAY_TASK_ID" \
  "afsim:test sweep $tmp/tiny.ini --out $tmp/img --backend cuda"; do
  [[ $line == *"$want "* ]] || fail "no '$want' in: $line"
done
ok "as the submitting user, the sweep's folder and the results mounted, the array's variables passed"
mkdir -p "$tmp/img"
touch "$tmp/img/shard-0-of-2.h5" "$tmp/img/shard-1-of-2.h5" "$tmp/img/shard-0-of-3.h5"
: > "$FAKE_DOCKER_LOG"
env PATH="$fake:$PATH" AFSIM_IMAGE=afsim:test AFSIM_OUT="$tmp/img" AFSIM_SHARDS=2 \
  AFSIM_PLOT=/nonexistent/plot_figures.py bash "$root/experiments/slurm/merge.sbatch" > "$tmp/merge.txt" 2>&1 ||
  { cat "$tmp/merge.txt"; fail "merge.sbatch failed"; }
mapfile -t calls < "$FAKE_DOCKER_LOG"
[ ${#calls[@]} = 2 ] || fail "${#calls[@]} docker calls, expected the merge and the plot: $(cat "$FAKE_DOCKER_LOG")"
[[ ${calls[0]} == *"afsim:test merge $tmp/img/merged.h5 $tmp/img/shard-0-of-2.h5 $tmp/img/shard-1-of-2.h5 --force "* ]] ||
  fail "merge call: ${calls[0]}"
[[ ${calls[1]} == *"afsim:test plot-figures $tmp/img/merged.h5 -o $tmp/img/merged --table "* ]] ||
  fail "plot call: ${calls[1]}"
grep -q '^| greedy |' "$tmp/img/merged.md" || fail "merged.md is not the image's table"
ok "merge.sbatch merges this submission's shards and plots with the image, not the host's python"

for tool in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$tool" >/dev/null || fail "$tool is missing: bash cmake/install-deps.sh --tests installs Slurm and munge"
done
[ "$(id -u)" = 0 ] || fail "the Slurm test starts slurmd, which needs root"

export SLURM_CONF=$tmp/slurm.conf
cleanup() {
  scancel --full --quiet --user=root 2>/dev/null || true
  [ -f "$tmp/slurmctld.pid" ] && kill "$(cat "$tmp/slurmctld.pid")" 2>/dev/null
  [ -f "$tmp/slurmd.pid" ] && kill "$(cat "$tmp/slurmd.pid")" 2>/dev/null
  munged --stop --socket="$tmp/munge.sock" >/dev/null 2>&1 || true
  sleep 0.5
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two free TCP ports, from the kernel.
read -r ctld_port d_port < <(/usr/bin/python3 -c "
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(('127.0.0.1', 0))
print(*[x.getsockname()[1] for x in s])")
host=$(hostname -s)

echo "slurm: munge, slurmctld and slurmd on localhost (ports $ctld_port, $d_port)"
head -c 1024 /dev/urandom > "$tmp/munge.key"
chmod 600 "$tmp/munge.key"
munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" || fail "munged did not start"
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/out"
cat > "$SLURM_CONF" <<EOF
ClusterName=afsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c || fail "slurmctld did not start"
slurmd -c -N "$host" || fail "slurmd did not start"
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %T | grep -q idle || fail "the node never became idle: $(sinfo 2>&1)"
ok "a one-node cluster is up: $(sinfo -h -o '%P %D %T')"

echo "slurm: a sweep of 8 points as an array of 3 shards, then the merge"
line=$(bash "$root/experiments/slurm/submit.sh" "$tmp/tiny.ini" --shards 3 --backend cpu \
  --bin "$afsim" --out "$tmp/out" -- --time=00:05:00) || fail "submit.sh failed: $line"
echo "  $line"
merge=$(sed -n 's/.*, merge \([0-9]*\);.*/\1/p' <<< "$line")
array=$(sed -n 's/.*array \([0-9]*\) .*/\1/p' <<< "$line")
if [ -z "$merge" ] || [ -z "$array" ]; then fail "no job ids in '$line'"; fi
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
  sleep 0.2
done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] || fail "jobs still queued after 120 s: $(squeue)"
ok "the array and the merge job left the queue"

for i in 0 1 2; do
  [ -f "$tmp/out/shard-$i-of-3.h5" ] || fail "no shard $i of 3"
  grep -q "array task $i of 3" "$tmp/out/afsim-sweep-${array}_$i.out" || fail "no output of task $i"
done
ok "three array tasks, one shard each"
/usr/bin/python3 - "$tmp/out" <<'EOF' || fail "the shards or the merged file are not the grid once"
import h5py, sys
d = sys.argv[1]
names = []
for i in range(3):
    names += list(h5py.File(f"{d}/shard-{i}-of-3.h5", "r")["points"])
assert sorted(names) == [f"p{p:06d}" for p in range(8)], names
m = h5py.File(f"{d}/merged.h5", "r")
assert sorted(m["points"]) == sorted(names) and m.attrs["sweep_points"] == 8
EOF
ok "the shards hold the 8 points once, and so does merged.h5"
if ! [ -s "$tmp/out/merged.png" ] || ! [ -s "$tmp/out/merged.pdf" ]; then fail "no plots"; fi
grep -q '^| greedy |' "$tmp/out/merged.md" || fail "no table in merged.md"
ok "merged.png, merged.pdf and the table from the merge job"
echo "slurm: all checks passed"
