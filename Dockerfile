# afsim image: built with the CUDA toolkit, run on the CUDA runtime. Its
# entrypoint (experiments/container.sh) runs the default experiment, the
# figures' sweeps and the plots, or afsim itself; results go to /out.
#   docker build --build-arg AFSIM_REVISION=$(git rev-parse --short HEAD) -t afsim .
#   docker run --rm --gpus all -v "$PWD/out:/out" afsim            # the default experiment
#   docker run --rm --gpus all -v "$PWD/out:/out" afsim figures --profile full fig3
#   docker run --rm -v "$PWD/out:/out" afsim help
# (README, "Sweeps, figures, clusters and containers", has the rest.)
ARG CUDA_VERSION=13.0.0
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-${UBUNTU} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git librandom123-dev libinih-dev libhdf5-dev \
      libcriterion-dev libopenblas-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .dockerignore leaves .git out, so git cannot tell the revision that every
# results file records (its git_revision attribute): the build argument
# does (CMake's AFSIM_REVISION; "unknown" when not given).
ARG AFSIM_REVISION=unknown
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAFSIM_REQUIRE_CUDA=ON \
      -DAFSIM_REVISION="${AFSIM_REVISION}" \
 && cmake --build build -j "$(nproc)" --target afsim env_bench nn_bench cuda_env_bench

FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-${UBUNTU}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libinih1 libhdf5-103-1t64 libgomp1 libopenblas0 python3-h5py python3-matplotlib \
      && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/afsim /src/build/env_bench /src/build/nn_bench \
     /src/build/cuda_env_bench /usr/local/bin/
COPY experiments /opt/afsim/experiments
ARG AFSIM_REVISION=unknown
LABEL org.opencontainers.image.title="afsim" org.opencontainers.image.revision="${AFSIM_REVISION}"
ENV AFSIM_RESULTS=/out
WORKDIR /out
ENTRYPOINT ["/opt/afsim/experiments/container.sh"]
CMD ["default"]
