#!/usr/bin/env bash
# The fuzz stage of tests/run.sh (docs/testing.md, "Fuzzing"): builds the
# libFuzzer harnesses with clang into build-fuzz/ (CPU only, ASan + UBSan),
# then for each harness
#   1. replays its seeds (corpus/<target>/) and its regression inputs
#      (regressions/<target>/): each must pass;
#   2. replays the reproducers of its known, unfixed defects
#      (known/<target>/<id>/): each must still fail, and one that passes
#      says that its defect is fixed (move it to regressions/);
#   3. fuzzes it for AFSIM_FUZZ_SECONDS (default 25) from a fixed seed,
#      leaving the known defects out (AFSIM_FUZZ_KNOWN): a crash fails the
#      stage, and the input is kept in build-fuzz/crashes/<target>/.
# fuzz_checkpoint takes raw bytes as the file: the reader refuses a file
# without HDF5's checksums before HDF5 parses it (HDF5 1.10 itself crashes
# on malformed files of the old format, regressions/checkpoint/ keeps them);
# fuzz_checkpoint_schema fuzzes the same reader with valid HDF5 files.
#   bash tests/fuzz/run.sh                       # as tests/run.sh runs it
#   AFSIM_FUZZ_SECONDS=600 bash tests/fuzz/run.sh config   # one harness, longer
# Arguments name harnesses (config, checkpoint, checkpoint_schema); none:
# all of them. Needs clang, libclang-rt-dev and llvm (cmake/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$root/tests/fuzz
build=${AFSIM_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${AFSIM_FUZZ_SECONDS:-25}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config checkpoint checkpoint_schema)

CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAFSIM_CUDA=OFF \
  -DAFSIM_FUZZ=ON >/dev/null
failed=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" > "$work/build.txt" 2>&1 ||
  { cat "$work/build.txt"; echo "fuzz: the build failed" >&2; exit 1; }
! grep -E 'warning:' "$work/build.txt" || echo "fuzz: (the warnings above are clang's)"

# What a failed run's log says went wrong, in one short line.
why() {
  { grep -m1 -E '^fuzz_[a-z_]+: ' "$1" || grep -m1 -oE 'SUMMARY: [A-Za-z]+: [^(]*' "$1" ||
    echo "exit status only"; } | head -n 1 | cut -c 1-100
}

# Files of a folder (none when it does not exist), one a line.
files_of() {
  if [ -d "$1" ]; then find "$1" -type f | sort; fi
}

for target in "${targets[@]}"; do
  bin=$build/fuzz_$target
  echo "== fuzz_$target"

  # Known defects: their ids, for the harness to leave out.
  known_ids=$(find "$fuzz/known/$target" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
    sort | paste -sd, || true)

  # 1. Seeds and regressions must pass (with the known defects left out, as
  # when they were fuzzed).
  mapfile -t replay < <(files_of "$fuzz/corpus/$target"; files_of "$fuzz/regressions/$target")
  if [ ${#replay[@]} -gt 0 ]; then
    if AFSIM_FUZZ_KNOWN=$known_ids "$bin" "${replay[@]}" > "$work/replay.txt" 2>&1; then
      echo "  ok: ${#replay[@]} seeds and regression inputs replayed"
    else
      tail -n 60 "$work/replay.txt"
      echo "  FAILED: a seed or regression input of fuzz_$target crashes (report above)" >&2
      failed+=("fuzz_$target replay")
    fi
  fi

  # 2. Known defects must still fail, each alone, with nothing left out.
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    rel=${f#"$root"/}
    if (unset AFSIM_FUZZ_KNOWN; "$bin" "$f") > "$work/known.txt" 2>&1; then
      id=$(basename "$(dirname "$f")")
      echo "  FIXED? $rel no longer fails: move it to tests/fuzz/regressions/$target/" >&2
      echo "         (and its folder out of known/, so that $id is fuzzed again)" >&2
      failed+=("$rel passes")
    else
      echo "  ok: known defect still fails: $rel ($(why "$work/known.txt"))"
    fi
  done < <(files_of "$fuzz/known/$target")

  # 3. Fuzz from a fixed seed.
  [ "$seconds" -gt 0 ] || continue
  crashes=$build/crashes/$target
  mkdir -p "$crashes" "$work/corpus-$target"
  args=(-seed=1 -max_total_time="$seconds" -timeout=10 -print_final_stats=1
        -artifact_prefix="$crashes/")
  [ ! -f "$fuzz/$target.dict" ] || args+=(-dict="$fuzz/$target.dict")
  [ "$target" != config ] || args+=(-max_len=4096)
  dirs=("$work/corpus-$target" "$fuzz/corpus/$target")
  [ ! -d "$fuzz/regressions/$target" ] || dirs+=("$fuzz/regressions/$target")
  if AFSIM_FUZZ_KNOWN=$known_ids "$bin" "${args[@]}" "${dirs[@]}" > "$work/fuzz.txt" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.txt")
    echo "  ok: ${runs:-?} inputs in $seconds s, no crash${known_ids:+ (left out: $known_ids)}"
  else
    grep -vE '^(INFO|#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)|MS: |Base64: |stat::|0x[0-9a-f]+,|\\)' \
      "$work/fuzz.txt" | tail -n 60
    crash=$(grep -oE "Test unit written to .*" "$work/fuzz.txt" | sed 's/Test unit written to //' | tail -n 1)
    echo "  FAILED: fuzz_$target found a crash; reproduce with:" >&2
    echo "    AFSIM_FUZZ_VERBOSE=1 $bin ${crash:-<the input above>}" >&2
    [ "$target" != checkpoint ] ||
      echo "  (a stack that is all HDF5's below afs_* is HDF5's own crash: docs/testing.md)" >&2
    failed+=("fuzz_$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ok"
