"""An action stored while Kafka was down goes out in the background once Kafka is back, with
no further action taken. The bus here is an in-memory stand-in for Kafka (the drain's timing
is under test; the real broker's side of the outbox is tests/integration/test_web_kafka.py)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.web_queries import WebStore
from citybrain.web.app import create_app
from citybrain.web.bus import BusUnavailable

from .conftest import PASSWORDS, csrf_of


class SwitchBus:
    """Refuses every record while `down`; keeps what it took."""

    def __init__(self) -> None:
        self.down = True
        self.taken: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self.down:
            raise BusUnavailable("down", 1.0)
        self.taken.append((topic, value))

    def flush(self) -> None:
        pass


def test_a_stored_action_goes_out_without_another_action(
    city: City, store: Store, app_settings: Settings
) -> None:
    s = app_settings.model_copy(
        update={"web": app_settings.web.model_copy(update={"outbox_drain_s": 0.05})}
    )
    bus = SwitchBus()
    app = create_app(city, store, s, bus)
    with TestClient(app, follow_redirects=False) as c:  # runs the app's lifespan
        c.post("/login", data={"username": "drainage", "password": PASSWORDS["drainage"]})
        r = c.post(
            "/api/incidents/flood-1/actions",
            json={"action": "accept"},
            headers={"x-csrf-token": csrf_of(c, "/inbox")},
        )
        assert r.status_code == 202 and r.json()["sent"] is False
        bus.down = False  # Kafka is back; nobody acts again
        deadline = time.monotonic() + 30
        while WebStore(store).unemitted() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert WebStore(store).unemitted() == []
    assert [t for t, _ in bus.taken] == [f"{s.kafka.topic_prefix}.feedback"]
