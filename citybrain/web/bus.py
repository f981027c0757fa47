"""Dispatcher actions out to Kafka: `<prefix>.feedback`, and `<prefix>.dispatch` for a move.

Actions are stored first with `emitted=False` (an outbox); `emit_pending` sends every
unsent one and marks it, so an action taken while Kafka is down goes out with the next one.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kafka import KafkaProducer

from citybrain.config.kafka import KafkaSettings
from citybrain.core.cells import cell_partition_key
from citybrain.core.ids import stable_id
from citybrain.core.messages import Feedback
from citybrain.store.models import DispatchRow, IncidentRow
from citybrain.store.repository import dispatch_from_row
from citybrain.store.web_models import ActionRow
from citybrain.store.web_queries import WebStore
from citybrain.streams.topics import Topics

log = logging.getLogger(__name__)


class Bus(Protocol):
    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Queue one record."""

    def flush(self) -> None:
        """Block until every queued record is acknowledged (raises if it cannot be)."""


class KafkaBus:
    """A producer made on first use, so the web server starts even while Kafka is down."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: KafkaProducer | None = None

    def _p(self) -> KafkaProducer:
        if self._producer is None:
            from citybrain.streams.kafka_io import make_producer

            self._producer = make_producer(self.settings)
        return self._producer

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self._p().send(topic, key=key, value=value, headers=headers)

    def flush(self) -> None:
        self._p().flush(timeout=10)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(5)


def feedback_of(a: ActionRow) -> Feedback:
    moved = a.action in ("reassign", "reject")
    return Feedback(
        incident_id=a.incident_id,
        action=a.action,
        actor=a.actor,
        at=a.at,
        department=a.department_to if moved else None,
        reason=a.reason,
    )


def dispatch_id(a: ActionRow) -> str:
    """The dispatch a move created (same formula as WebStore.act)."""
    return stable_id("dsp", a.incident_id, a.department_to, a.id)


def emit_pending(ws: WebStore, bus: Bus, topics: Topics) -> int:
    """Send every stored action not yet on Kafka; returns how many went out."""
    pending = ws.unemitted()
    if not pending:
        return 0
    with ws.sessions() as s:
        for a in pending:
            fb = feedback_of(a)
            # Keyed like the incident's observations, so it reaches the worker that holds it.
            inc = s.get(IncidentRow, a.incident_id)
            key = cell_partition_key(inc.cell) if inc is not None and inc.cell else a.incident_id
            bus.send(
                topics.feedback,
                key=key.encode(),
                value=fb.model_dump_json().encode(),
                headers=[("idempotency-key", a.id.encode())],
            )
            if a.department_to != a.department_from:
                row = s.get(DispatchRow, dispatch_id(a))
                if row is not None:
                    bus.send(
                        topics.dispatch,
                        key=row.department.encode(),
                        value=dispatch_from_row(row).model_dump_json().encode(),
                        headers=[("idempotency-key", row.id.encode())],
                    )
    bus.flush()
    ws.mark_emitted([a.id for a in pending])
    return len(pending)
