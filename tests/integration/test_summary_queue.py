"""The summary queue on real SQLite and PostgreSQL: coalesced per incident, claimed once,
backed off after a failure, taken again when a worker dies, kept when it gives up."""

from __future__ import annotations

import time

import pytest

from citybrain.store import Store
from citybrain.store.summary_queue import SummaryQueue

pytestmark = pytest.mark.integration


def test_updates_while_queued_are_one_piece_of_work_on_the_latest_version(store: Store) -> None:
    q = SummaryQueue(store)
    for _ in range(5):
        q.enqueue(["inc-a"])
    q.enqueue(["inc-b", "inc-b"])
    assert q.counts()["pending"] == 2
    claims = q.claim(limit=10, lease_s=60)
    assert {(c.incident_id, c.version) for c in claims} == {("inc-a", 5), ("inc-b", 1)}
    assert q.claim(limit=10, lease_s=60) == []  # taken: nobody else gets them
    a = next(c for c in claims if c.incident_id == "inc-a")
    q.enqueue(["inc-a"])  # a sixth change arrives while the model writes the fifth
    assert q.done(a) is False  # superseded: stays queued for the latest state
    [again] = q.claim(limit=10, lease_s=60)
    assert (again.incident_id, again.version) == ("inc-a", 6)
    assert q.done(again) is True
    b = next(c for c in claims if c.incident_id == "inc-b")
    assert q.done(b) is True
    assert q.counts() == {"pending": 0, "working": 0, "done": 2, "failed": 0}
    q.enqueue(["inc-a"])  # a change after it was summarised queues it again
    assert q.counts()["pending"] == 1


def test_failures_back_off_then_give_up_without_losing_the_row(store: Store) -> None:
    q = SummaryQueue(store)
    q.enqueue(["inc-c"])
    [c] = q.claim(limit=1, lease_s=60)
    assert q.fail(c, "timeout", max_attempts=2, base_s=30.0, max_s=60.0) == "pending"
    assert q.claim(limit=1, lease_s=60) == []  # backing off: not due yet
    row = q.row("inc-c")
    assert row is not None and row.attempts == 1 and row.last_error == "timeout"
    with store.sessions.begin() as s:  # let the back-off pass
        from citybrain.store.summary_queue import SummaryWorkRow

        got = s.get(SummaryWorkRow, "inc-c")
        assert got is not None
        got.next_at = got.enqueued_at
    [c2] = q.claim(limit=1, lease_s=60)
    assert c2.attempts == 1
    assert q.fail(c2, "HTTP 500", max_attempts=2, base_s=30.0, max_s=60.0) == "failed"
    assert q.counts()["failed"] == 1 and q.claim(limit=1, lease_s=60) == []
    q.enqueue(["inc-c"])  # new evidence gives it a fresh start
    [c3] = q.claim(limit=1, lease_s=60)
    assert c3.attempts == 0


def test_work_a_dead_worker_held_is_taken_again_after_its_lease(store: Store) -> None:
    q = SummaryQueue(store)
    q.enqueue(["inc-d"])
    [held] = q.claim(limit=1, lease_s=0.2)  # this worker dies here, holding it
    assert q.claim(limit=1, lease_s=60) == []
    time.sleep(0.3)
    restarted = SummaryQueue(store)  # a new process over the same store
    [taken] = restarted.claim(limit=1, lease_s=60)
    assert (taken.incident_id, taken.version) == (held.incident_id, held.version)
    restarted.release(taken)  # a worker that stops gives it back untouched
    assert restarted.counts()["pending"] == 1
