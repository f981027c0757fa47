"""Dispatch workers scaled out share one outbox: two department senders over the same real
store (SQLite and PostgreSQL) and a real HTTP receiver deliver every dispatch exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from citybrain.config.dispatch import DispatchSettings
from citybrain.delivery.webhooks import DepartmentSender
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
        senders = [
            DepartmentSender("city_roads", store, settings)
            for _ in range(2)
        ]
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
