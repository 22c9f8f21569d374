#!/usr/bin/env bash
# A sweep through a real Slurm, end to end: brings up munge, slurmctld and
# slurmd on this machine (a one-node cluster on localhost, in a temporary
# folder, on free ports), submits a small sweep with
# experiments/slurm/submit.sh (a job array of 3 shards and the merge job
# that depends on it), waits for them, checks that the shards covered the
# grid once and that the merged file and the plots are there, and stops
# every daemon on any exit. Needs root and Debian's slurmctld, slurmd,
# slurm-client and munge (`cmake/install-deps.sh --tests`), build/afsim
# and /usr/bin/python3 with h5py; about half a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
fail() {
  echo "  FAILED: $*" >&2
  for f in "$tmp"/*.log "$tmp"/out/*.out; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
ok() { echo "  ok: $*"; }

for tool in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$tool" >/dev/null || fail "$tool is missing: bash cmake/install-deps.sh --tests installs Slurm and munge"
done
[ "$(id -u)" = 0 ] || fail "the Slurm test starts slurmd, which needs root"
[ -x "$root/build/afsim" ] || fail "no build/afsim: bash cmake/build.sh"

export SLURM_CONF=$tmp/slurm.conf
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_COUNT SLURM_JOB_ID
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
cat > "$tmp/tiny.ini" <<'EOF'
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
EOF
line=$(bash "$root/experiments/slurm/submit.sh" "$tmp/tiny.ini" --shards 3 --backend cpu \
  --out "$tmp/out" -- --time=00:05:00) || fail "submit.sh failed: $line"
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
