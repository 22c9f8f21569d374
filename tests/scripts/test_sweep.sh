#!/usr/bin/env bash
# Checks `afsim sweep` and `afsim merge` from the command line (the crash
# test, tests/test_crash.c, kills and resumes a sweep): shards cover the
# grid exactly once, Slurm's array variables pick the shard, profiles and
# --set apply, bad input fails with a message naming it, merge refuses
# what is not one sweep's. Needs build/afsim and /usr/bin/python3 with
# h5py (tests/run.sh installs both); a few seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
afsim=${AFSIM_BIN:-$root/build/afsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Run inside a Slurm array job, these would pick the shards themselves.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_COUNT

ok() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*" >&2
  exit 1
}
# expect_exit WHAT CODE PATTERN COMMAND...: the exit status, and PATTERN
# (grep -E) in what the command printed.
expect_exit() {
  local what=$1 want=$2 pattern=$3 rc=0
  shift 3
  "$@" > out.txt 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat out.txt; fail "$what: exit $rc, expected $want"; }
  grep -qE -- "$pattern" out.txt || { cat out.txt; fail "$what: no '$pattern' in the output"; }
  ok "$what (exit $rc)"
}
# points FILE: the point groups of a shard or merged file, one a line.
points() { /usr/bin/python3 -c "import h5py, sys; print('\n'.join(sorted(h5py.File(sys.argv[1], 'r')['points'])))" "$1"; }

cat > grid.ini <<'EOF'
[sweep]
env.agents = 3, 4
run.envs = 1, 2
methods = greedy, random, esdrl
seeds = 2
eval_episodes = 1

[profile.fast]
sweep.seeds = 1
env.slots = 2

[profile.asis]

[env]
slots = 3
[train]
episodes = 2
warmup = 4
eval_every = 0
replay_mib = 1
[esdrl]
batch = 8
EOF
run() { "$afsim" sweep grid.ini --backend cpu "$@"; }

echo "sweep: three shards cover the grid's 24 points exactly once"
for i in 0 1 2; do run --shard "$i/3" --out three --quiet; done
all=$(for i in 0 1 2; do points "three/shard-$i-of-3.h5"; done | sort)
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; ok "$1"; }
expect_eq "24 points in the three shards" "$(wc -l <<< "$all")" 24
expect_eq "no point twice" "$(uniq -d <<< "$all" | wc -l)" 0
expect_eq "shard 1 holds p = 1 mod 3" "$(points three/shard-1-of-3.h5 | sed -n '1,2p' | paste -sd ' ')" "p000001 p000004"
expect_exit "merge: every point" 0 "merged 24 of the sweep's 24 points" "$afsim" merge three.h5 three/shard-*.h5
expect_exit "merge: two of three shards" 1 "merged 16 of the sweep's 24 points.*8 missing" \
  "$afsim" merge two.h5 three/shard-0-of-3.h5 three/shard-1-of-3.h5
expect_exit "merge: the same shard twice" 1 "also in an earlier input" \
  "$afsim" merge twice.h5 three/shard-0-of-3.h5 three/shard-0-of-3.h5
[ ! -e twice.h5 ] || fail "a failed merge left its output"
expect_exit "merge: an existing output" 1 "exists.*--force" "$afsim" merge three.h5 three/shard-0-of-3.h5
/usr/bin/python3 - three.h5 <<'EOF'
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
p = f['points/p000013']
assert p.attrs['sweep_description'] == b'env.agents=4 run.envs=1 method=greedy seed=2', p.attrs['sweep_description']
assert p.attrs['env.agents'] == 4 and p.attrs['run.envs'] == 1 and p.attrs['run.seed'] == 2
assert list(p['runs']) == ['greedy'] and len(p['runs/greedy/success_rate']) == 1
t = f['points/p000017']
assert t.attrs['sweep_method'] == b'esdrl' and 'train' in t and len(t['train/train/episode']) == 2
EOF
ok "a point's configuration and description as attributes; a learning method's training curves beside"

echo "plot_figures.py: panels, learning curves and the table of a merged sweep"
/usr/bin/python3 "$root/experiments/plot_figures.py" three.h5 -o fig --table > fig.md 2> plot.err || { cat plot.err; fail "plot_figures.py failed"; }
for f in fig.png fig.pdf fig-learning.png; do [ -s "$f" ] || fail "no $f"; done
ok "fig.png, fig.pdf, fig-learning.png"
PYTHONPATH=$root/experiments /usr/bin/python3 - <<'EOF'
import math
import plot_figures as pf
m, lo, hi = pf.iqm_ci([1.0, 2.0, 3.0, 100.0])  # IQM of 4: the mean of the middle two
assert m == 2.5 and 1.0 <= lo <= m <= hi <= 100.0, (m, lo, hi)
m, lo, hi = pf.iqm_ci([0.5, float("nan")])  # NaN left out: one seed, no interval
assert m == 0.5 and math.isnan(lo) and math.isnan(hi)
assert math.isnan(pf.iqm_ci([])[0])
EOF
ok "IQM by hand: [1, 2, 3, 100] gives 2.5 inside its interval; one seed, no interval; NaN left out"
/usr/bin/python3 - three.h5 fig.md <<'EOF'
import h5py, sys
import numpy as np
f = h5py.File(sys.argv[1], "r")
vals = []
for p in f["points"].values():
    if p.attrs["sweep_method"] == b"random" and p.attrs["env.agents"] == 3 and p.attrs["run.envs"] == 2:
        g = p["runs/random"]
        vals.append(np.average(g["success_rate"][:], weights=g["functions"][:]))
# two seeds: nothing trimmed, the IQM is their mean; every resample of two
# values is one of (a, a), (a, b), (b, b): the interval's ends are a and b
want = f"{np.mean(vals):.3f} [{min(vals):.3f}, {max(vals):.3f}]"
rows = [l for l in open(sys.argv[2]) if l.startswith("| random, run.envs=2 |")]
assert len(vals) == 2 and vals[0] != vals[1] and rows and rows[0].split("|")[2].strip().startswith(want), (vals, want, rows)
EOF
ok "the table's random success at 3 ENs (2 environments): the mean of its two seeds within [lowest, highest]"

echo "plot_map.py: one slot of AM-DRL with its groups, from a trace"
"$afsim" train --algo amdrl --backend cpu --set env.agents=12 --envs 2 --set env.slots=3 --episodes 1 \
  --set train.warmup=20 --set amdrl.batch=24 --set amdrl.comm=always --set train.replay_mib=1 \
  --out am.h5 --quiet
"$afsim" run --backend cpu --policy ckpt:am.ckpt.h5 --set env.agents=12 --envs 1 --set env.slots=1 \
  --episodes 1 --trace --out am-run.h5 --quiet
/usr/bin/python3 "$root/experiments/plot_map.py" am-run.h5 -o map.png > /dev/null || fail "plot_map.py failed"
[ -s map.png ] || fail "no map.png"
/usr/bin/python3 -c "
import h5py
t = h5py.File('am-run.h5', 'r')['runs/ckpt:am.ckpt.h5/trace'][:]
assert (t['group'] >= 0).all() and (t['x'] >= 0).all() and (t['x'] <= 350).all(), t[['en', 'group', 'x']]"
ok "map.png; with amdrl.comm = always every EN with a function is in a group"
expect_exit "a trace without positions or a file without a trace is refused" 1 "no run with a trace" \
  /usr/bin/python3 "$root/experiments/plot_map.py" three.h5

echo "sweep: Slurm's array variables pick the shard"
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 run --out slurm --quiet
[ -f slurm/shard-2-of-4.h5 ] || fail "task 3 of an array 1-4 did not write shard 2 of 4"
expect_eq "task 3 of 1-4 ran p = 2 mod 4" "$(points slurm/shard-2-of-4.h5 | sed -n '1,2p' | paste -sd ' ')" "p000002 p000006"
expect_exit "--shard wins over Slurm's variables" 0 "shard 0 of 2" \
  env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 "$afsim" sweep grid.ini --backend cpu --shard 0/2 --out s2

echo "sweep: a second run skips finished points"
expect_exit "run again" 0 "12 of the grid's 24 points, 12 finished before" run --shard 0/2 --out s2

echo "sweep: profiles and --set"
expect_exit "--profile fast: one seed" 0 "shard 0 of 1: 12 of the grid's 12 points" run --profile fast --out fast
/usr/bin/python3 -c "import h5py; assert h5py.File('fast/shard-0-of-1.h5', 'r')['points/p000000'].attrs['env.slots'] == 2"
ok "the profile's env.slots = 2 reached the points"
expect_exit "an empty profile is the file as it is" 0 "24 of the grid's 24 points" run --profile asis --shard 0/1 --out asis --set sweep.eval_episodes=1 --set sweep.methods=greedy,random,esdrl
expect_exit "another profile into the same folder is refused" 1 "holds the results of another sweep" \
  run --profile asis --out fast
expect_exit "--set sweep.seeds=3" 0 "shard 0 of 36: 1 of the grid's 36 points" run --set sweep.seeds=3 --set sweep.methods=greedy,random,esdrl --shard 0/36 --out s3

echo "sweep: stopped by a signal, then resumed"
rc=0
"$afsim" sweep grid.ini --backend cpu --out stopped --set train.episodes=400 > stop.txt 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e stopped/points ] && break; sleep 0.05; done
sleep 0.3
kill -TERM "$pid"
wait "$pid" || rc=$?
[ "$rc" = 130 ] || { cat stop.txt; fail "SIGTERM: exit $rc, expected 130"; }
grep -q "run the same command to go on" stop.txt || { cat stop.txt; fail "no advice after the stop"; }
if grep -q -- "--resume" stop.txt; then cat stop.txt; fail "a training's own advice leaked"; fi
ok "SIGTERM: exit 130 and the sweep's own advice"
expect_exit "resumed to the end" 0 "finished before" "$afsim" sweep grid.ini --backend cpu --out stopped --set train.episodes=400

echo "sweep: the deadline policy's alpha, chosen on training episodes"
printf '[sweep]\nenv.agents = 150\nmethods = deadline\ndeadline_alphas = 0.01, 0.8\ntune_episodes = 1\neval_episodes = 2\n[run]\nenvs = 4\n[env]\nslots = 20\n' > dl.ini
"$afsim" sweep dl.ini --backend cpu --out dl --quiet
expect_eq "0.8 wins over 0.01 (everything to the cloud, congested: success 0.40 against 0.94)" \
  "$(/usr/bin/python3 -c "import h5py; print(h5py.File('dl/shard-0-of-1.h5', 'r')['points/p000000'].attrs['deadline.alpha'])")" 0.8
"$afsim" run --backend cpu --policy deadline --set deadline.alpha=0.8 --set env.agents=150 --envs 4 \
  --set env.slots=20 --episodes 2 --seed 1 --out plain.h5 --quiet
/usr/bin/python3 - dl/points/p000000.h5 plain.h5 <<'EOF2'
import h5py, sys
a, b = (h5py.File(p, 'r')['runs/deadline'] for p in sys.argv[1:])
for c in ('success_rate', 'mean_reward', 'mean_latency_s'):
    assert (a[c][:] == b[c][:]).all(), (c, a[c][:], b[c][:])
EOF2
ok "the point's evaluation is afsim run's with the chosen alpha on the same held-out episodes, bit for bit"

echo "sweep: bad input"
printf '[sweep]\nenv.agents = 3, 4\n   5\nmethods = greedy\n' > twolines.ini
expect_exit "a list continued on an indented line" 2 "twolines.ini:3: sweep.env.agents given twice" \
  "$afsim" sweep twolines.ini --out bad
printf '[sweep]\nrun.seed = 1, 2\nmethods = greedy\n' > seed.ini
expect_exit "run.seed cannot be swept" 2 "sweep.run.seed cannot be swept: seeds come from sweep.seeds" \
  "$afsim" sweep seed.ini --out bad
printf '[sweep]\nesdrl.actor_hidden = 8,8 | 16\nmethods = esdrl\n[env]\nagents = 3\nslots = 2\n[run]\nenvs = 1\n[train]\nepisodes = 1\nwarmup = 2\neval_every = 0\nreplay_mib = 1\n[esdrl]\nbatch = 4\n' > layers.ini
expect_exit "values with commas, separated by |" 0 "2 of the grid's 2 points" "$afsim" sweep layers.ini --backend cpu --out layers
/usr/bin/python3 -c "import h5py; f = h5py.File('layers/shard-0-of-1.h5', 'r'); assert f['points/p000000'].attrs['esdrl.actor_hidden'] == b'8,8', f['points/p000000'].attrs['esdrl.actor_hidden']"
ok "esdrl.actor_hidden = 8,8 at the first point"
printf '[sweep]\ndeadline.alpha = 0.5, 1\nmethods = deadline\n' > alpha.ini
expect_exit "deadline.alpha cannot be swept" 2 "sweep.deadline.alpha cannot be swept: the sweep chooses it" \
  "$afsim" sweep alpha.ini --out bad
expect_exit "a fixed deadline.alpha with the deadline method is refused, naming the way" 2 \
  "deadline.alpha is set, but the sweep chooses it.*sweep.deadline_alphas = 0.7" \
  "$afsim" sweep dl.ini --set deadline.alpha=0.7 --out bad
"$afsim" merge layers.h5 layers/shard-0-of-1.h5 > /dev/null
expect_exit "a swept key of text values is drawn at evenly spaced positions" 0 \
  "esdrl.actor_hidden = 16 \| esdrl.actor_hidden = 8,8" \
  /usr/bin/python3 "$root/experiments/plot_figures.py" layers.h5 -o layers --table
printf '[sweep]\nenv.agents = 3, 150\nmethods = greedy, esdrl\n[train]\nreplay_mib = 1\n' > plan.ini
expect_exit "a learning method's replay that cannot hold two slots, at load" 2 "sweep point 3 \\(env.agents=150 method=esdrl" \
  "$afsim" sweep plan.ini --out bad
expect_exit "SLURM_ARRAY_TASK_ID without the count" 2 "SLURM_ARRAY_TASK_COUNT is not set" \
  env SLURM_ARRAY_TASK_ID=1 "$afsim" sweep grid.ini --out bad
expect_exit "an unknown profile lists the file's" 2 "no \[profile.full\] \(profiles there: fast, asis\)" run --profile full --out bad
printf '[sweep]\nenv.agentz = 3\nmethods = greedy\n' > typo.ini
expect_exit "a swept key that does not exist" 2 "typo.ini:2: sweep.env.agentz: not methods" \
  "$afsim" sweep typo.ini --out bad
printf '[sweep]\nenv.agents = 3, 0\nmethods = greedy\n' > zero.ini
expect_exit "a value out of range, found before anything runs" 2 "sweep.env.agents.*'0'" \
  "$afsim" sweep zero.ini --out bad
expect_exit "a shard count past int's range, not wrapped" 2 "--shard 1/99999999999: expected I/N" \
  "$afsim" sweep grid.ini --shard 1/99999999999 --out bad
expect_exit "SLURM_ARRAY_TASK_ID that is not a number, not task 0" 2 \
  "SLURM_ARRAY_TASK_ID='abc': not a whole number" \
  env SLURM_ARRAY_TASK_ID=abc SLURM_ARRAY_TASK_COUNT=2 "$afsim" sweep grid.ini --out bad
printf '[sweep]\nenv.agents = 3\nmethods = greedy, esdlr\n[profile.fast]\nsweep.methods = greedy\n' > unused.ini
expect_exit "a typo in a list that the profile replaces" 2 "unused.ini:3: sweep.methods: 'esdlr'" \
  "$afsim" sweep unused.ini --check --profile fast --out bad
[ ! -e bad ] || fail "a refused sweep made its folder"
expect_exit "--check lists the shard's points" 0 "p000013  env.agents=4 run.envs=1 method=greedy seed=2" \
  run --check --shard 1/3 --out three
mkfifo fifo.h5
expect_exit "merge --force onto a FIFO" 1 "fifo.h5 exists and is not a regular file" \
  "$afsim" merge fifo.h5 three/shard-0-of-3.h5 --force
[ -p fifo.h5 ] || fail "merge --force replaced a FIFO"
printf '[sweep]\nenv.agents = 3\nmethods = greedy, gready\n' > method.ini
expect_exit "an unknown method" 2 "'gready' is not one of" "$afsim" sweep method.ini --out bad
expect_exit "--shard 3/3" 2 "expected I/N with 0 <= I < N" run --shard 3/3
printf '[sweep]\nenv.agents = 3, 5\nmethods = greedy\n[env]\nslots = 2\n' > other.ini
"$afsim" sweep other.ini --backend cpu --out other --quiet
expect_exit "merge: shards of two sweeps" 1 "a shard of another sweep" \
  "$afsim" merge mixed.h5 three/shard-0-of-3.h5 other/shard-0-of-1.h5
expect_exit "--help" 0 "usage: afsim sweep" "$afsim" sweep --help
echo "sweep: all checks passed"
