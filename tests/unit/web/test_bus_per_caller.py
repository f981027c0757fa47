"""The web bus answers each caller for its own records only: a request whose record Kafka
refused must not hear "sent" because another request's flush took its failure. The producer
here stands in for kafka-python's (the client's futures are what is under test, and a real
broker cannot be made to refuse one request's record and take another's on cue); the bus
against a real broker is tested in tests/integration/test_web_kafka.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from citybrain.config.kafka import KafkaSettings
from citybrain.web.bus import BusUnavailable, KafkaBus


class _Future:
    def __init__(self, ok: bool) -> None:
        self.is_done = True
        self.exception = None if ok else RuntimeError("broker refused the record")

    def failed(self) -> bool:
        return self.exception is not None


class _Producer:
    """Refuses records whose value is b"bad", after the send (as the broker would)."""

    def send(self, topic: str, **kw: Any) -> _Future:
        return _Future(kw["value"] != b"bad")

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_each_caller_is_answered_for_its_own_records() -> None:
    """Request A (a thread) queues a ticket the broker will refuse; request B queues a good one
    and flushes first; then A flushes. B must hear "sent", A "unavailable"."""
    bus = KafkaBus(KafkaSettings())
    bus._producer = _Producer()  # type: ignore[assignment]
    sent, b_done = threading.Event(), threading.Event()
    answers: dict[str, BaseException | None] = {}

    def request_a() -> None:
        bus.send("t.tickets", b"a", b"bad", [])
        sent.set()
        b_done.wait(10)
        try:
            bus.flush()
            answers["a"] = None
        except BusUnavailable as e:
            answers["a"] = e

    a = threading.Thread(target=request_a)
    a.start()
    sent.wait(10)
    bus.send("t.tickets", b"b", b"good", [])
    try:
        bus.flush()  # B hears of its own record only: acknowledged
        answers["b"] = None
    except BusUnavailable as e:
        answers["b"] = e
    b_done.set()
    a.join(10)
    assert answers["b"] is None
    assert isinstance(answers["a"], BusUnavailable)  # A is told, not B


def test_the_producer_is_made_once_for_callers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    gate = threading.Barrier(8)

    def make_producer(settings: KafkaSettings, **kw: Any) -> _Producer:
        made.append(object())
        return _Producer()

    monkeypatch.setattr("citybrain.streams.kafka_io.make_producer", make_producer)
    bus = KafkaBus(KafkaSettings())

    def send() -> None:
        gate.wait()
        bus.send("t.tickets", b"k", b"good", [])
        bus.flush()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
