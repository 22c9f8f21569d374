#!/usr/bin/env bash
# The sanitizer stage of tests/run.sh (docs/testing.md, "Sanitizers"):
# builds everything with clang, AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer (float-cast-overflow included), CPU only, into
# build-asan/, then runs the smoke experiment and the whole Criterion suite
# with it. Any report fails the stage:
# - every sanitized program (the test binary, Criterion's per-test children,
#   the afsim binary that tests start) stops with SIGABRT at its first report
#   (tests/sanitize/options.c, compiled in): a test child's crash fails its
#   test, the afsim binary's fails the test that started it;
# - every report is also written to a log folder (log_path), which must stay
#   empty: a report in a process whose output or status a test ignores
#   still fails the stage. A process killed with SIGKILL, as some tests do
#   on purpose, writes no report.
#   bash tests/sanitize/run.sh            # as tests/run.sh runs it
#   bash tests/sanitize/run.sh --filter 'config/*'   # arguments go to afsim_tests
# Needs clang, libclang-rt-dev, libomp-dev and llvm (cmake/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${AFSIM_ASAN_BUILD_DIR:-$root/build-asan}

CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAFSIM_CUDA=OFF \
  -DAFSIM_SANITIZE=ON >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --build "$build" -j "$(nproc)" > "$tmp/build.txt" 2>&1 ||
  { cat "$tmp/build.txt"; echo "sanitize: the build failed" >&2; exit 1; }
! grep -E 'warning:' "$tmp/build.txt" || echo "sanitize: (the warnings above are clang's)"

# Reports go to $logs/report.<pid>; the user's own options still apply after.
logs=$tmp/reports
mkdir -p "$logs"
export ASAN_OPTIONS="log_path=$logs/report${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$logs/report${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# This build has no CUDA backend: its CUDA tests skip, even where the GPU
# check asks for them to be required.
unset AFSIM_REQUIRE_GPU

args=("$@") # none: the whole suite

# LLVM's OpenMP runtime (this build's) registers each process in
# /dev/shm/__KMP_REGISTERED_LIB_<pid>_<uid> and removes the file at exit. A
# process killed with SIGKILL, as the crash tests kill hundreds, leaves it
# behind, and a later process given the same pid (pids wrap at pid_max)
# finds it and stops with "OMP: Error #15 ... already initialized". The
# files of processes no longer alive go first (tests/test_crash.c removes
# those of the runs it kills as it goes).
for f in /dev/shm/__KMP_REGISTERED_LIB_*_"$(id -u)"; do
  [ -e "$f" ] || continue
  pid=${f#/dev/shm/__KMP_REGISTERED_LIB_}
  pid=${pid%_*}
  kill -0 "$pid" 2>/dev/null || rm -f "$f"
done

rc=0
echo "sanitize: smoke run"
"$build/afsim" run --config "$root/experiments/smoke.ini" --out "$tmp/smoke.h5" --quiet || rc=1
# A damaged checkpoint (one bit of an ES-DRL checkpoint's object header
# flipped) is refused with exit 1, and HDF5's own 424-byte leak on it is
# suppressed (lsan.supp): no report.
echo "sanitize: a damaged checkpoint"
drc=0
"$build/afsim" run --set env.agents=2 --envs 1 --episodes 1 --backend cpu --quiet \
  --policy "ckpt:$root/tests/sanitize/hdf5-leak-on-a-damaged-checkpoint" --out "$tmp/damaged.h5" \
  2> "$tmp/damaged.txt" || drc=$?
if [ "$drc" != 1 ]; then
  cat "$tmp/damaged.txt"
  echo "sanitize: the damaged checkpoint gave exit $drc, not 1" >&2
  rc=1
fi
echo "sanitize: Criterion suite"
"$build/afsim_tests" --jobs "$(nproc)" "${args[@]}" || rc=1

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  for f in $reports; do
    echo "---- $f"
    cat "$f"
  done
  echo "sanitize: FAILED: $(echo "$reports" | wc -l) sanitizer report(s) above" >&2
  exit 1
fi
if [ "$rc" != 0 ]; then
  echo "sanitize: FAILED (see above)" >&2
  exit 1
fi
echo "sanitize: ok, no report"
