"""Run one pipeline job as a Kafka consumer-group member until told to stop."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

from citybrain.city_loading import load_city
from citybrain.config import Settings
from citybrain.store import TRANSIENT_ERRORS, Store
from citybrain.streams.jobs import job_spec
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.metrics import serve_metrics
from citybrain.streams.topics import Topics, ensure_topics
from citybrain.streams.worker import StreamWorker

log = logging.getLogger(__name__)


def worker_name(job: str) -> str:
    return f"{job}@{socket.gethostname()}:{os.getpid()}"


def run_job(
    job: str,
    settings: Settings,
    stop: threading.Event | None = None,
    idle_exit_s: float | None = None,
    first_wait_s: float = 120.0,
) -> dict[str, int]:
    """Build the stage, join the group, loop; returns the stage's counters at exit."""
    spec = job_spec(job)
    stop = stop or stop_on_signals()
    city = load_city(settings)
    store = Store.open(settings.store)
    names = Topics(settings.kafka.topic_prefix)
    stage = spec.build(settings, city, store, names)  # refuses a misfit router at once
    topics = spec.inputs(names)
    ensure_topics(settings.kafka)
    name = worker_name(job)
    worker = StreamWorker(
        consumer=make_consumer(settings.kafka, job, max_records=spec.max_poll_records(settings)),
        producer=make_producer(settings.kafka),
        stage=stage,
        topics=topics,
        dlq_topic=names.dlq,
        poll_timeout_ms=settings.kafka.poll_timeout_ms,
        report=lambda _job, counters: store.write_stats(
            name, counters, settings.store.stats_keep_s
        ),
        transient=TRANSIENT_ERRORS,
        retry_max_s=settings.workers.dependency_retry_max_s,
        poison_retries=settings.workers.poison_retries,
        tick_every_s=settings.workers.tick_every_s,
    )
    log.info("%s: consuming %s", name, ", ".join(topics))
    w = settings.workers
    metrics = (
        serve_metrics(w.metrics_host, w.metrics_port, job, name, stage.stats)
        if w.metrics_port
        else None
    )
    ended_cleanly = False
    try:
        worker.run(stop, idle_exit_s=idle_exit_s, first_wait_s=first_wait_s)
        ended_cleanly = True
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        stage.close()  # threads and child processes the stage owns
        if ended_cleanly:  # after a failure the next start sends it, as after a kill
            worker.send_outbox()  # what those threads wrote last goes out now
        worker.close()
    return dict(stage.stats)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so every command stops the same clean way."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    return stop
