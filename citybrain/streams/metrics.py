"""A worker's own Prometheus endpoint: its stage's live counters, scraped straight from the
process, so a pipeline is observable even when the web server (which reads every worker's
counters from the store) is down."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from citybrain.streams.counters import Stat

log = logging.getLogger(__name__)


class StageCollector(Collector):
    """Every numeric counter of the stage as one labelled gauge, read at scrape time."""

    def __init__(self, job: str, worker: str, stats: Mapping[str, object]) -> None:
        self.job, self.worker, self.stats = job, worker, stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "citybrain_worker_counter",
            "This worker's stage counters (records, DLQ reasons, model calls, ...)",
            labels=["job", "worker", "counter"],
        )
        lag = GaugeMetricFamily(
            "citybrain_worker_lag", "Records behind the end of the input topics", labels=["job"]
        )
        for key, value in dict(self.stats).items():
            if isinstance(value, int | float):
                g.add_metric([self.job, self.worker, key], float(value))
        lag.add_metric([self.job], float(self.stats.get(Stat.LAG, 0) or 0))  # type: ignore[arg-type]
        yield g
        yield lag


def serve_metrics(
    host: str, port: int, job: str, worker: str, stats: Mapping[str, object]
) -> WSGIServer:
    """Start the endpoint in a daemon thread; the caller shuts the returned server down."""
    registry = CollectorRegistry()
    registry.register(StageCollector(job, worker, stats))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    log.info("%s: metrics on http://%s:%d/metrics", worker, host, port)
    return server
