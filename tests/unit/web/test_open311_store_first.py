"""Open311 stores the request before its ticket goes to Kafka: a database outage answers 503
with nothing sent, so the client's retry makes one ticket, not two. The outage is real (another
connection holds SQLite's write lock); the bus is an in-memory stand-in for Kafka that keeps
what it took (the broker side is tests/integration/test_web_kafka.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import Ticket
from citybrain.store import Store
from citybrain.store.web_queries import WebStore
from citybrain.web.app import create_app
from citybrain.web.bus import BusUnavailable

URL = "/open311/v2/requests.json"
GOOD = {"service_code": "flooding", "lat": "30.28", "long": "120.12", "description": "water"}


class RecordingBus:
    def __init__(self) -> None:
        self.down = False
        self.taken: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self.down:
            raise BusUnavailable("down", 5.0)
        self.taken.append((topic, value))

    def flush(self) -> None:
        pass


def _store(path: Path) -> Store:
    Store.from_url(f"sqlite:///{path}")  # creates the tables
    return Store(create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2}))


def test_a_database_outage_sends_nothing_and_the_retry_makes_one_ticket(
    city: City, app_settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    store, bus = _store(db), RecordingBus()
    c = TestClient(create_app(city, store, app_settings, bus), raise_server_exceptions=False)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # the database is unavailable to writers
    try:
        r = c.post(URL, data=GOOD)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert r.status_code == 503 and r.headers["retry-after"]
    assert bus.taken == []  # no ticket without its stored request
    again = c.post(URL, data=GOOD)
    assert again.status_code == 201
    [(_, value)] = bus.taken
    rid = again.json()[0]["service_request_id"]
    assert Ticket.model_validate_json(value).ticket_id == rid
    assert [req.id for req, _ in WebStore(store).open311()] == [rid]


def test_kafka_down_keeps_the_request_and_sends_it_once_kafka_is_back(
    city: City, app_settings: Settings, tmp_path: Path
) -> None:
    store, bus = _store(tmp_path / "s.db"), RecordingBus()
    # The default 30 s lease: the failed request gives its claim back, so the drain need not
    # wait it out (with a tiny lease instead this raced the clock).
    app = create_app(city, store, app_settings, bus)
    c = TestClient(app)
    bus.down = True
    r = c.post(URL, data=GOOD)
    assert r.status_code == 202  # stored: it goes out later, so a retry would only duplicate it
    rid = r.json()[0]["service_request_id"]
    assert bus.taken == []
    bus.down = False
    app.state.ctx.emit()  # what the background drain does every web.outbox_drain_s
    [(_, value)] = bus.taken
    assert Ticket.model_validate_json(value).ticket_id == rid
    app.state.ctx.emit()
    assert len(bus.taken) == 1  # sent once
