#!/usr/bin/env bash
# Makes gpu-deps/: the headers and shared libraries afsim builds and runs
# with that are not part of a CUDA image (Random123, inih, HDF5, Criterion and
# the libraries they load), for a GPU machine that cannot install packages.
# OpenBLAS (36 MB) is left out to stay under the device tool's 64 MiB carry
# limit: there the CPU backend, only the parity reference, uses its plain
# matrix-product loop (AFSIM_BLAS=OFF).
# Run it here, then carry gpu-deps/ to the device machine, where
# bench/gpu_check.sh finds it. The C library, libstdc++, libgcc and the CUDA
# runtime, cuBLAS and cuDNN are left out: the target has its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/gpu-deps"
bash "$root/cmake/install-deps.sh"
[ -x "$root/build/afsim_tests" ] || bash "$root/cmake/build.sh"
rm -rf "$out"
mkdir -p "$out/include" "$out/lib"
cp -r /usr/include/Random123 /usr/include/criterion "$out/include/"
cp /usr/include/ini.h "$out/include/"
cp /usr/include/hdf5/serial/*.h "$out/include/"
# Link-time names, as plain copies (symbolic links may not travel).
cp -L /usr/lib/x86_64-linux-gnu/libinih.so "$out/lib/libinih.so"
cp -L /usr/lib/x86_64-linux-gnu/libhdf5_serial.so "$out/lib/libhdf5_serial.so"
cp -L /usr/lib/x86_64-linux-gnu/libcriterion.so "$out/lib/libcriterion.so"
# Run-time names of everything the test binary loads, but the system's own.
skip='^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux.*|libstdc\+\+|libgcc_s|libgomp|libcudart|libcublas|libcublasLt|libcudnn|libopenblas|libgfortran|libquadmath)\.so'
ldd "$root/build/afsim_tests" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
  if ! [[ $name =~ $skip ]]; then cp -L "$path" "$out/lib/$name"; fi
done
du -sh "$out"
