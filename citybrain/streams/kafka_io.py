"""Factories for kafka-python clients configured from settings (the only place that knows how)."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from citybrain.config.kafka import KafkaSettings


def make_producer(settings: KafkaSettings, **overrides: Any) -> KafkaProducer:
    """``overrides``: further KafkaProducer options (the web bus bounds ``max_block_ms``)."""
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=5,
        retries=5,
        max_request_size=settings.max_request_bytes,
        **settings.client_options(),
        **overrides,
    )


def group_id(settings: KafkaSettings, job: str) -> str:
    """Groups carry the topic prefix so a replay namespace never steals live offsets."""
    return f"{settings.group_prefix}.{settings.topic_prefix}.{job}"


def make_consumer(settings: KafkaSettings, job: str, max_records: int) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id(settings, job),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(1000, settings.session_timeout_ms // 4),
        fetch_max_bytes=settings.max_request_bytes,
        max_partition_fetch_bytes=settings.max_request_bytes,
        **settings.client_options(),
    )
