#!/usr/bin/env bash
# Makes gpu-deps/ for a GPU machine without the Debian packages (and without
# network): the headers and shared libraries afsim builds and runs with that
# a CUDA toolkit does not have (Random123, inih, HDF5, Criterion and the
# libraries they load). Run it on a development machine, copy gpu-deps/ with
# the source tree to the GPU machine, and run bench/gpu_check.sh there: it
# builds with gpu-deps/ and puts gpu-deps/lib on the library path of afsim's
# own binaries only.
#
# Left out: the C library, libstdc++, libgcc, OpenMP's runtime and the CUDA
# runtime, cuBLAS and cuDNN (the GPU machine has its own), and OpenBLAS
# (36 MB): there the CPU backend, only the reference of the parity tests,
# multiplies matrices with its plain loop (AFSIM_BLAS=OFF). The bundle must
# stay under 64 MiB (about 30 MB now); the script fails above that.
#
# usage: bash bench/gpu_bundle.sh [FOLDER]   (default: gpu-deps/ in the source tree)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/gpu-deps}
limit=$((64 * 1024 * 1024))
bash "$root/cmake/install-deps.sh"
[ -x "$root/build/afsim_tests" ] || bash "$root/cmake/build.sh"
# Replace an earlier bundle, never some other folder.
if [ -e "$out" ] && ! [ -d "$out/lib" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "gpu_bundle: $out exists and is not a bundle: not replacing it" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/include" "$out/lib"
cp -r /usr/include/Random123 /usr/include/criterion "$out/include/"
cp /usr/include/ini.h "$out/include/"
cp /usr/include/hdf5/serial/*.h "$out/include/"
# Link-time names, as plain copies (symbolic links may not survive the copy).
cp -L /usr/lib/x86_64-linux-gnu/libinih.so "$out/lib/libinih.so"
cp -L /usr/lib/x86_64-linux-gnu/libhdf5_serial.so "$out/lib/libhdf5_serial.so"
cp -L /usr/lib/x86_64-linux-gnu/libcriterion.so "$out/lib/libcriterion.so"
# Run-time names of everything the test binary loads, but the system's own.
skip='^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux.*|libstdc\+\+|libgcc_s|libgomp|libcudart|libcublas|libcublasLt|libcudnn|libopenblas|libgfortran|libquadmath)\.so'
ldd "$root/build/afsim_tests" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
  if ! [[ $name =~ $skip ]]; then cp -L "$path" "$out/lib/$name"; fi
done
size=$(du -sb "$out" | cut -f1)
echo "gpu_bundle: $out, $((size / 1024 / 1024)) MiB ($size bytes)"
if [ "$size" -ge "$limit" ]; then
  echo "gpu_bundle: the bundle is over 64 MiB" >&2
  exit 1
fi
