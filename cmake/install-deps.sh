#!/usr/bin/env bash
# Installs the Debian packages afsim needs to build, test and plot, when any
# is missing. Used by experiments/run.sh and tests/run.sh; safe to re-run.
# With --tests, also what tests/run.sh's sanitizer, fuzz and Slurm tests
# need (clang and its runtimes; Slurm and munge).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  librandom123-dev   # Philox4x32-10, header-only
  libinih-dev        # INI configuration files
  libhdf5-dev        # results files
  libcriterion-dev   # tests
  libopenblas-dev    # matrix products of the CPU backend
  python3-h5py python3-matplotlib python3-numpy  # plots and the NumPy benchmark peer
  python3-pytest     # tests/python (the experiment scripts' tests)
  python3-venv python3-dev  # the Python package's .venv and its C extension (python/install.sh)
)
if [ "${1:-}" = --tests ]; then
  # The sanitizer and fuzz builds (tests/sanitize, tests/fuzz): clang, its
  # sanitizer and libFuzzer runtimes, its OpenMP runtime (libomp), and
  # llvm-symbolizer for the reports' stacks.
  packages+=(clang libclang-rt-dev libomp-dev llvm)
  # The Slurm test (tests/scripts/test_slurm.sh): a single-node Slurm on
  # localhost, its daemons started and stopped by the test.
  packages+=(slurmctld slurmd slurm-client munge)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "afsim: installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "afsim: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
