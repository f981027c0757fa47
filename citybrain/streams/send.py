"""Checked sends: every record's delivery result is looked at after the flush.

kafka-python's `flush()` waits for the in-flight batches but only logs one that failed, so a
worker that commits after it may commit output that never reached the broker. Here each
`send()` keeps its future; after the flush a failure raises `SendFailed` before the commit,
so the batch is replayed. A record the broker (or the client's `max_request_size`) refuses as
too large cannot succeed on a retry: it goes to the DLQ with reason `record_too_large`, its
value cut to what fits beside its headers, so it never vanishes and never blocks the
partition.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from citybrain.core.messages import DeadLetter
from citybrain.errors import CityBrainError
from citybrain.streams.records import DLQ_OVERHEAD, Output

log = logging.getLogger(__name__)

# Last resort for a dead letter that is still refused: a record this small (headers, no value).
_SMALL_HEAD = DLQ_OVERHEAD

TOO_LARGE: tuple[type[BaseException], ...] = (MessageSizeTooLargeError,)
try:  # not every kafka-python version names the broker's RECORD_LIST_TOO_LARGE (code 18)
    from kafka.errors import RecordListTooLargeError

    TOO_LARGE = (*TOO_LARGE, RecordListTooLargeError)
except ImportError:  # pragma: no cover - depends on the installed client
    pass


class SendFailed(CityBrainError):
    """A record did not reach the broker: the batch must not be committed. `delivered` are
    the indexes of the outputs that did get through (an outbox marks those sent)."""

    def __init__(self, message: str, delivered: list[int]) -> None:
        super().__init__(message)
        self.delivered = delivered


@dataclass
class Sent:
    """What one checked send did, for the counters and the outbox."""

    delivered: list[int]  # indexes into the outputs that reached the broker (as sent or DLQ)
    too_large: list[int]  # indexes of those that went to the DLQ instead


def record_size(out: Output) -> int:
    return len(out.value) + len(out.key or b"") + sum(len(k) + len(v) for k, v in out.headers)


def too_large_letter(out: Output, error: str, dlq_topic: str, max_bytes: int, stage: str) -> Output:
    """A DLQ record for an output that could not be sent: its head with the reason."""
    meta = DeadLetter(
        reason="record_too_large",
        detail=f"{record_size(out)} bytes for {out.topic}: {error}"[:500],
        stage=stage,
        source_topic=out.topic,
        source_partition=-1,
        source_offset=-1,
        truncated=True,
        at=datetime.now(UTC),
    )
    headers = [(k, v) for k, v in out.headers if not k.startswith("dlq.")] + meta.to_headers()
    fixed = DLQ_OVERHEAD + len(out.key or b"") + sum(len(k) + len(v) for k, v in headers)
    room = max(0, max_bytes - fixed)
    return Output(topic=dlq_topic, key=out.key, value=out.value[:room], headers=headers)


class CheckedSender:
    """Sends a batch of outputs and tells exactly which reached the broker."""

    def __init__(
        self, producer: KafkaProducer, dlq_topic: str, dlq_max_bytes: int, stage: str
    ) -> None:
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.dlq_max_bytes = dlq_max_bytes
        self.stage = stage

    def send_all(self, outputs: Sequence[Output]) -> Sent:
        """Send, flush, check; too-large records go to the DLQ (their head only). Raises
        SendFailed when anything else failed, after telling which did get through."""
        futures: dict[int, Any] = {}
        errors: dict[int, BaseException] = {}
        for i, out in enumerate(outputs):
            try:
                futures[i] = self._send(out)
            except TOO_LARGE as e:  # refused by the client before it left
                errors[i] = e
            except KafkaError as e:
                errors[i] = e
        self.producer.flush()
        for i, fut in futures.items():
            if not fut.is_done:
                errors[i] = KafkaError("not acknowledged by the end of the flush")
            elif fut.failed():
                errors[i] = fut.exception
        too_large = sorted(i for i, e in errors.items() if isinstance(e, TOO_LARGE))
        for i in too_large:
            if self._dead_letter(outputs[i], errors[i]):
                del errors[i]
        delivered = [i for i in range(len(outputs)) if i not in errors]
        sent = Sent(delivered, [i for i in too_large if i not in errors])
        if errors:
            first = min(errors)
            raise SendFailed(
                f"{len(errors)} of {len(outputs)} records not delivered; first to "
                f"{outputs[first].topic}: {errors[first]!r}",
                delivered,
            ) from errors[first]
        return sent

    def _send(self, out: Output) -> Any:
        return self.producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)

    def _dead_letter(self, out: Output, error: BaseException) -> bool:
        """Send the too-large record's dead letter; headers only if its head is refused too."""
        log.warning("%s: record to %s too large (%s): dead-lettered", self.stage, out.topic, error)
        for limit in (self.dlq_max_bytes, _SMALL_HEAD):
            letter = too_large_letter(out, str(error), self.dlq_topic, limit, self.stage)
            try:
                fut = self._send(letter)
                self.producer.flush()
                fut.get(timeout=0)
                return True
            except TOO_LARGE:
                continue
            except KafkaError:
                return False
        return False
