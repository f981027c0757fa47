"""Read a whole topic without joining a consumer group: for operators and tests, never for jobs."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition

from citybrain.config.kafka import KafkaSettings
from citybrain.core.messages import DeadLetter


def read_topic(settings: KafkaSettings, topic: str, limit: int | None = None) -> list[Any]:
    """Every record now in `topic` (up to `limit`), in partition then offset order."""
    c = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_bytes=settings.max_request_bytes,
        max_partition_fetch_bytes=settings.max_request_bytes,
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        c.assign(parts)
        c.seek_to_beginning(*parts)
        end = c.end_offsets(parts)
        out: list[Any] = []
        for tp in parts:
            while c.position(tp) < end[tp] and (limit is None or len(out) < limit):
                for recs in c.poll(timeout_ms=1000).values():
                    out += recs
        out.sort(key=lambda r: (r.partition, r.offset))
        return out[:limit] if limit is not None else out
    finally:
        c.close()


def dead_letters(settings: KafkaSettings, topic: str, limit: int | None = None) -> list[DeadLetter]:
    """The DLQ's records as their typed headers (the original bytes stay in the topic)."""
    out = []
    for r in read_topic(settings, topic, limit):
        h = {
            k.removeprefix("dlq."): v.decode() for k, v in (r.headers or []) if k.startswith("dlq.")
        }
        out.append(DeadLetter.model_validate(h))
    return out
