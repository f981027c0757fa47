"""What a stage returns for the worker to write: outputs and dead letters travel as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from citybrain.core.messages import DeadLetter
from citybrain.errors import RejectedRecord

# What a record costs beside its value, key and headers (batch and record framing), generously.
DLQ_OVERHEAD = 512


@dataclass(frozen=True)
class Output:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class InRecord:
    """The part of a consumed record a stage needs; built from kafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    redacted: bool = False  # the value's personal data was replaced (a ticket's DLQ copy)

    @classmethod
    def from_kafka(cls, r: Any) -> InRecord:
        return cls(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            key=r.key,
            value=r.value if r.value is not None else b"",
            headers={k: v for k, v in (r.headers or [])},
        )

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def dead_letter(
    record: InRecord,
    err: RejectedRecord,
    stage: str,
    dlq_topic: str,
    max_bytes: int,
) -> Output:
    """The original bytes with the reason in headers; a huge value keeps its head only, and the
    headers point at its offset in the source topic, where the whole record still lives.
    `max_bytes` bounds the whole record (value, key, headers and framing), so a dead letter
    of a record near the broker's limit is not itself refused as too large."""
    original = [(k, v) for k, v in record.headers.items() if not k.startswith("dlq.")]

    def letter(truncated: bool) -> DeadLetter:
        return DeadLetter(
            reason=err.reason,
            detail=err.detail[:500],
            stage=stage,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            truncated=truncated,
            redacted=record.redacted,
            at=datetime.now(UTC),
        )

    headers = original + letter(True).to_headers()
    fixed = DLQ_OVERHEAD + len(record.key or b"") + sum(len(k) + len(v) for k, v in headers)
    room = max(0, max_bytes - fixed)
    truncated = len(record.value) > room
    return Output(
        topic=dlq_topic,
        key=record.key,
        value=record.value[:room] if truncated else record.value,
        headers=original + letter(truncated).to_headers(),
    )
