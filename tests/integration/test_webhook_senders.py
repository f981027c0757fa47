"""Dispatch workers scaled out share one outbox: two department senders over the same real
store (SQLite and PostgreSQL) and a real HTTP receiver deliver every dispatch exactly once, in
each department's order (a failed one is not overtaken), retried for hours by default, and
`citybrain deliveries redrive` puts dead-lettered ones back in the queue."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config.dispatch import DispatchSettings
from citybrain.delivery.webhooks import DepartmentSender, backoff
from citybrain.store import Store
from citybrain.store.model_step import Delivery, add_delivery

from .fake_servers import webhook_receiver

pytestmark = pytest.mark.integration


def test_a_claimed_attempt_cannot_be_claimed_twice(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with store.sessions.begin() as s:
        add_delivery(s, Delivery("d1", "city_roads", "http://127.0.0.1:9/x", "{}"), now)
    [row] = store.due_deliveries("city_roads")
    later = datetime(2100, 1, 1, tzinfo=UTC)
    assert store.claim_delivery(row.id, row.next_at, later)
    assert not store.claim_delivery(row.id, row.next_at, later)  # a second worker loses
    assert store.due_deliveries("city_roads") == []  # not due for anyone while leased


def test_two_workers_deliver_each_dispatch_once(store: Store) -> None:
    settings = DispatchSettings(webhook_timeout_s=2.0, backoff_s=0.1)
    with webhook_receiver(200) as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        now = datetime.now(UTC)
        with store.sessions.begin() as s:
            for i in range(20):
                add_delivery(s, Delivery(f"d{i:02d}", "city_roads", url, "{}"), now)
        senders = [DepartmentSender("city_roads", store, settings) for _ in range(2)]
        threads = []
        for sender in senders:
            for _ in range(3):  # each "worker" polls a few times, concurrently with the other
                threads.append(threading.Thread(target=sender.send_due))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        senders[0].send_due()  # a later poll: whatever a lost race left goes out now
        for sender in senders:
            sender.close()
    keys = [r["key"] for r in hook.requests]
    assert sorted(keys) == [f"d{i:02d}" for i in range(20)]  # every one, none twice
    rows = store.deliveries("city_roads")
    assert all(r.status == "delivered" and r.attempts == 1 for r in rows)


def test_a_failed_delivery_is_not_overtaken_by_later_ones(store: Store) -> None:
    """A department's receiver is down: its next dispatch (a summary follow-up, say) waits
    behind the one that failed, so the receiver never gets them out of order."""
    settings = DispatchSettings(webhook_timeout_s=2.0, backoff_s=0.05, backoff_max_s=0.05)
    with webhook_receiver(503) as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        sender = DepartmentSender("city_roads", store, settings)
        with store.sessions.begin() as s:
            add_delivery(s, Delivery("d1-dispatch", "city_roads", url, "{}"), datetime.now(UTC))
        sender.send_due()  # fails, backs off
        with store.sessions.begin() as s:
            add_delivery(s, Delivery("d2-follow-up", "city_roads", url, "{}"), datetime.now(UTC))
        sender.send_due()  # d1 is not due yet; d2 is, but must wait behind it
        assert [r["key"] for r in hook.requests] == ["d1-dispatch"]
        hook.status = 200
        deadline = time.monotonic() + 30
        while len(hook.requests) < 3 and time.monotonic() < deadline:  # d1's back-off passes
            sender.send_due()
            time.sleep(0.02)
        sender.close()
    assert [r["key"] for r in hook.requests] == ["d1-dispatch", "d1-dispatch", "d2-follow-up"]


def test_by_default_a_delivery_is_retried_for_hours() -> None:
    s = DispatchSettings()
    waits = sum(backoff(s, attempt) for attempt in range(1, s.max_attempts))
    assert waits >= 3 * 3600


def test_dead_deliveries_are_redriven(store: Store, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with store.sessions.begin() as s:
        for did, dep in (("d1", "city_roads"), ("d2", "city_roads"), ("d3", "sanitation_east")):
            add_delivery(s, Delivery(did, dep, "http://127.0.0.1:9/x", "{}"), now)
    for did in ("d1", "d3"):
        store.mark_delivery(did, "dead", 60, now, "HTTP 503")
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  url: {store.engine.url.render_as_string(hide_password=False)}\n")
    res = CliRunner().invoke(
        app, ["deliveries", "redrive", "--config", str(config), "--department", "city_roads"]
    )
    assert res.exit_code == 0, res.output
    assert "1 dead delivery" in res.output
    rows = {r.id: r for r in store.deliveries()}
    assert rows["d1"].status == "pending" and rows["d1"].attempts == 0
    assert rows["d1"].last_error == "HTTP 503"  # kept, for whoever looks into it
    assert rows["d3"].status == "dead"  # another department: left alone
