"""Produce the synthetic city to Kafka: frames (JPEG value, metadata in headers) and tickets."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from citybrain.city_loading import load_city
from citybrain.config import Settings
from citybrain.sim.stream import (
    FrameRecord,
    SimRecord,
    TicketRecord,
    ground_truth,
    iter_records,
    write_ground_truth,
)
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics

log = logging.getLogger(__name__)
_BROKEN_JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"not the rest of a JPEG"


def produce_city(
    settings: Settings, start: datetime | None = None, stop: threading.Event | None = None
) -> dict[str, int]:
    """Send every record of the scenario in simulated-time order; returns what was sent.

    `start` is the simulated clock's origin (default: now minus the simulated span, so the
    latest records are current). The ground truth is written before the first record.
    """
    sim = settings.simulator
    city = load_city(settings)
    start = start or datetime.fromtimestamp(time.time() - sim.duration_s, UTC).replace(
        microsecond=0
    )
    write_ground_truth(sim.ground_truth, ground_truth(city, sim, start))
    ensure_topics(settings.kafka)
    topics = Topics(settings.kafka.topic_prefix)
    producer = make_producer(settings.kafka)
    sent = {"frames": 0, "tickets": 0, "broken_frames": 0, "broken_tickets": 0}
    began = time.monotonic()
    try:
        for n, rec in enumerate(iter_records(city, sim, start)):
            if stop is not None and stop.is_set():
                break
            if sim.rate > 0:
                delay = began + n / sim.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if isinstance(rec, FrameRecord):
                value = rec.jpeg
                broken = sent["broken_frames"] + sent["broken_tickets"]
                if broken < sim.broken_records and n % 50 == 7:
                    value = _BROKEN_JPEG  # a camera that sends garbage now and then
                    sent["broken_frames"] += 1
                send_record(producer, topics, rec, value)
                sent["frames"] += 1
            elif isinstance(rec, TicketRecord):
                send_record(producer, topics, rec)
                sent["tickets"] += 1
                broken = sent["broken_frames"] + sent["broken_tickets"]
                if broken < sim.broken_records and sent["tickets"] % 10 == 3:
                    # A form that posts truncated JSON: one extra record, not a lost ticket.
                    producer.send(topics.tickets, key=b"broken", value=b'{"ticket_id": "T-brok')
                    sent["tickets"] += 1
                    sent["broken_tickets"] += 1
        producer.flush()
    finally:
        producer.close(10)
    log.info("simulator sent %(frames)d frames and %(tickets)d tickets", sent)
    return sent


def send_record(
    producer: KafkaProducer, topics: Topics, rec: SimRecord, value: bytes | None = None
) -> FutureRecordMetadata:
    """One record as a camera or the hotline sends it: a frame's JPEG (or `value` instead)
    with its metadata in headers, keyed by camera; a ticket as JSON, keyed by ticket id.
    Returns the send's future, for a sender that waits for the broker's answer."""
    if isinstance(rec, FrameRecord):
        return producer.send(
            topics.frames,
            key=rec.meta.camera_id.encode(),
            value=rec.jpeg if value is None else value,
            headers=rec.meta.to_headers(),
        )
    return producer.send(
        topics.tickets,
        key=rec.ticket.ticket_id.encode(),
        value=rec.ticket.model_dump_json().encode() if value is None else value,
    )
