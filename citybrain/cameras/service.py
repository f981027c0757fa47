"""Build and run the camera gateway from the settings (the I/O around `Gateway`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable

from citybrain.cameras.gateway import Gateway, plan
from citybrain.city_loading import load_city
from citybrain.config import Settings
from citybrain.errors import CityBrainError
from citybrain.store import Store
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.metrics import serve_metrics
from citybrain.streams.topics import Topics, ensure_topics

log = logging.getLogger(__name__)
JOB = "cameras"


def run_gateway(
    settings: Settings,
    stop: threading.Event,
    cameras: Iterable[str] = (),
    duration_s: float | None = None,
) -> dict[str, int]:
    """Read this shard's cameras until `stop` (or `duration_s`); returns the counters."""
    city = load_city(settings)
    only = set(cameras) or None
    if only:
        unknown = only - {c.id for c in city.cameras}
        if unknown:
            raise CityBrainError(f"unknown camera(s): {', '.join(sorted(unknown))}")
    plans = plan(city.cameras, settings.cameras, only)
    if not plans:
        raise CityBrainError(
            "no camera with a `stream` in this shard: give cameras a stream in cameras.yaml"
        )
    store = Store.open(settings.store)  # migrates only where store.auto_migrate says so
    ensure_topics(settings.kafka)
    name = f"{JOB}@{socket.gethostname()}:{os.getpid()}"
    gateway = Gateway(
        plans,
        settings.cameras,
        # a send never blocks the loop for long (Kafka away, buffer full): counted, dropped
        make_producer(settings.kafka, max_block_ms=int(settings.cameras.send_block_s * 1000)),
        Topics(settings.kafka.topic_prefix),
        max_pixels=settings.vision.max_frame_pixels,
        report=lambda counters: store.write_stats(name, counters, settings.store.stats_keep_s),
    )
    w = settings.workers
    metrics = (
        serve_metrics(w.metrics_host, w.metrics_port, JOB, name, gateway.stats)
        if w.metrics_port
        else None
    )
    ends = time.monotonic() + duration_s if duration_s is not None else None
    try:
        gateway.run(stop, until=(lambda: time.monotonic() >= ends) if ends is not None else None)
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        gateway.producer.close(10)
    return dict(gateway.stats)
