# afsim image: build with the CUDA toolkit, run on the CUDA runtime.
#   docker build -t afsim .
#   nvidia-docker run --rm -v $PWD/out:/out afsim run --config /opt/afsim/experiments/smoke.ini --out /out/smoke.h5
ARG CUDA_VERSION=13.0.0
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-${UBUNTU} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git librandom123-dev libinih-dev libhdf5-dev \
      libcriterion-dev libopenblas-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON \
 && cmake --build build -j "$(nproc)" --target afsim env_bench nn_bench cuda_env_bench

FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-${UBUNTU}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libinih1 libhdf5-103-1t64 libgomp1 libopenblas0 python3-h5py python3-matplotlib \
      && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/afsim /src/build/env_bench /src/build/nn_bench \
     /src/build/cuda_env_bench /usr/local/bin/
COPY experiments /opt/afsim/experiments
ENTRYPOINT ["afsim"]
CMD ["--help"]
