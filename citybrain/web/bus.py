"""Dispatcher actions out to Kafka: `<prefix>.feedback`, and `<prefix>.dispatch` for a move.

Actions are stored first with `emitted=False` (an outbox); `emit_pending` sends every
unsent one and marks it only once the broker acknowledged every record, so an action taken
while Kafka is down goes out with the next one, or with the background drain
(`outbox_drain.py`), whichever comes first.

Sends are checked: `flush` raises `BusUnavailable` unless every record the calling thread
sent since its own last flush was acknowledged (kafka-python's own flush returns quietly when a
record failed). Each thread waits on its own records only: a web request is one thread, so a
request never answers "sent" for a record whose failure another request's flush took. After a
failure the bus answers at once, without trying, until `retry_after_s` has passed: a web
request never waits on a broker already known to be down, and callers answer 503 with a
`Retry-After` of what is left.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from citybrain.config.kafka import KafkaSettings
from citybrain.core.cells import cell_partition_key
from citybrain.core.ids import reassignment_dispatch_id
from citybrain.core.messages import Feedback
from citybrain.errors import CityBrainError
from citybrain.store.mappers import dispatch_from_row
from citybrain.store.models import DispatchRow, IncidentRow
from citybrain.store.outbox import Outbox
from citybrain.store.web_models import ActionRow
from citybrain.store.web_queries import WebStore
from citybrain.streams.topics import Topics

log = logging.getLogger(__name__)
OPEN311_OUTBOX = "web.open311"  # the outbox job of Open311 tickets (web/open311.py)


class BusUnavailable(CityBrainError):
    """Kafka did not take the records; try again after `retry_after_s` seconds."""

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class Bus(Protocol):
    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Queue one record (raises BusUnavailable if it cannot even be queued)."""

    def flush(self) -> None:
        """Block until every record this thread queued is acknowledged; raises BusUnavailable
        otherwise."""


class KafkaBus:
    """A producer made on first use, so the web server starts even while Kafka is down."""

    def __init__(
        self, settings: KafkaSettings, timeout_s: float = 5.0, retry_after_s: float = 15.0
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._producer: KafkaProducer | None = None
        self._mine = threading.local()  # each thread's futures since its last flush
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _p(self) -> KafkaProducer:
        """The one producer, made by the first caller (two requests at once make one)."""
        with self._lock:
            if self._producer is None:
                from citybrain.streams.kafka_io import make_producer

                # A send waits for topic metadata at most this long (kafka-python's: 60 s).
                self._producer = make_producer(
                    self.settings, max_block_ms=int(self.timeout_s * 1000)
                )
            return self._producer

    def _pending(self) -> list[Any]:
        pending: list[Any] | None = getattr(self._mine, "pending", None)
        if pending is None:
            pending = self._mine.pending = []
        return pending

    def _check_up(self) -> None:
        left = self._down_until - time.monotonic()
        if left > 0:
            raise BusUnavailable("Kafka was unreachable moments ago", left)

    def _down(self, e: BaseException) -> BusUnavailable:
        self._down_until = time.monotonic() + self.retry_after_s
        return BusUnavailable(f"Kafka did not take the records: {e}", self.retry_after_s)

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        try:
            self._check_up()
            try:
                future = self._p().send(topic, key=key, value=value, headers=headers)
            except KafkaError as e:
                raise self._down(e) from e
        except BusUnavailable:
            # the caller's batch failed as a whole: what it queued before is not carried over
            # to the next request this thread serves
            self._mine.pending = []
            raise
        self._pending().append(future)

    def flush(self) -> None:
        pending = self._pending()
        self._mine.pending = []
        if not pending:
            return
        try:
            self._p().flush(timeout=self.timeout_s)
        except KafkaError as e:
            raise self._down(e) from e
        failed = [f for f in pending if not f.is_done or f.failed()]
        if failed:
            first = failed[0]
            raise self._down(first.exception if first.is_done else TimeoutError("no ack"))

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
    """The dispatch a move created (WebStore.act made it)."""
    return reassignment_dispatch_id(a.incident_id, a.department_to, a.id)


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


def send_outbox(outbox: Outbox, bus: Bus) -> int:
    """Send what `outbox` holds for its holder (and rows whose holder's lease ran out), check
    every acknowledgement, then mark them sent; returns how many went out."""
    pending = outbox.take()
    if not pending:
        return 0
    try:
        for p in pending:
            out = p.output
            bus.send(out.topic, key=out.key or b"", value=out.value, headers=list(out.headers))
        bus.flush()
    except BaseException:
        outbox.release(p.seq for p in pending)  # the drain may send them at once
        raise
    outbox.mark_sent(p.seq for p in pending)
    return len(pending)
