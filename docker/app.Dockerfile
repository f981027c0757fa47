# syntax=docker/dockerfile:1
# citybrain stream workers and web server on a CPU base: one image, the role is the argument
# (docker/entrypoint.py): web | vision | tickets | incidents | dispatch | validate-config.
# Build from the repository root:
#   docker build -f docker/app.Dockerfile -t REGISTRY/citybrain/app:0.1.0 .
# No secret enters a layer: credentials come at run time from Kubernetes Secrets as env.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# llama-cpp-python (the embedded demo model server, a dependency) builds from source
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 cmake=3.25.1-1 \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/citybrain
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY citybrain ./citybrain
COPY pipelines ./pipelines
RUN /opt/citybrain/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 citybrain \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin citybrain
COPY --from=build /opt/citybrain /opt/citybrain
WORKDIR /app
# the sample city and the demo models (the CLIP text side runs in the vision worker);
# a city mounts its own config/city over these
COPY config ./config
COPY models/demo ./models/demo
COPY docker/entrypoint.py /usr/local/bin/citybrain-entrypoint
ENV PATH=/opt/citybrain/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    YOLO_CONFIG_DIR=/tmp/ultralytics
USER 10001:10001
EXPOSE 8080 9100
ENTRYPOINT ["/opt/citybrain/bin/python", "/usr/local/bin/citybrain-entrypoint"]
CMD ["web"]
