# syntax=docker/dockerfile:1
# Triton Inference Server with citybrain's model repository baked in: the export stage runs
# `citybrain models export` (detector + clip_image as TorchScript, GPU instance groups,
# dynamic batching) and keeps the PyTorch-backend layout (docker/triton_repository.py);
# the final stage is NVIDIA's Triton image with /models and nothing else of the build.
# Build from the repository root:
#   docker build -f docker/triton.Dockerfile -t REGISTRY/citybrain/triton:0.1.0 .
# The Triton release's libtorch must load TorchScript from the torch pinned in pyproject.toml:
# upgrade the two together, and check with the vision pod's readiness (/v2/health/ready).

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:25.10-py3

FROM ${PYTHON_IMAGE} AS export
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 cmake=3.25.1-1 \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/citybrain
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY citybrain ./citybrain
COPY pipelines ./pipelines
RUN /opt/citybrain/bin/pip install --no-cache-dir .
COPY config ./config
COPY models/demo ./models/demo
COPY docker/triton_repository.py ./docker/
RUN /opt/citybrain/bin/citybrain models export --out /models --gpu --max-batch 64 \
 && /opt/citybrain/bin/python docker/triton_repository.py /models

FROM ${TRITON_IMAGE} AS runtime
COPY --from=export /models /models
# the image's unprivileged user triton-server (uid 1000); the pod runs it as non-root too
USER 1000:1000
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models", "--strict-readiness=true"]
