"""Dispatcher actions: free text is redacted before it travels, and the department that acts
is checked again inside the write (an incident moved meanwhile cannot be acted on)."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.web_queries import ActionError, WebStore
from citybrain.web.app import create_app
from citybrain.web.bus import KafkaBus

from .conftest import PASSWORDS, ClientFor, csrf_of


def test_reasons_are_redacted_before_they_are_stored_or_sent(
    client_for: ClientFor, store: Store
) -> None:
    drainage = client_for("drainage")
    r = drainage.post(
        "/api/incidents/flood-1/actions",
        json={
            "action": "reassign",
            "department": "city_roads",
            "reason": "road collapsed, ask 张先生 13812345678 or Mrs. Brown",
        },
        headers={"x-csrf-token": csrf_of(drainage, "/inbox")},
    )
    assert r.status_code == 201, r.text
    [a] = WebStore(store).actions("flood-1")
    assert a.reason == "road collapsed, ask [NAME]先生 [PHONE] or Mrs. [NAME]"
    roads = client_for("roads").get("/api/feedback", params={"incident_id": "flood-1"}).json()
    assert roads[0]["reason"] == a.reason


def test_an_incident_moved_meanwhile_refuses_its_former_holder(store: Store, city: City) -> None:
    ws = WebStore(store)
    with pytest.raises(ActionError, match="moved to another department"):
        ws.act(
            "flood-1",
            "accept",
            "roads",
            triage_department=city.triage_department,
            as_department="city_roads",  # flood-1 is water_drainage's
        )
    assert ws.actions("flood-1") == []
    ws.act(
        "flood-1",
        "accept",
        "drainage",
        triage_department=city.triage_department,
        as_department="water_drainage",
    )
    assert [a.action for a in ws.actions("flood-1")] == ["accept"]


def test_an_action_kafka_did_not_take_is_202_not_sent_and_stays_in_the_outbox(
    city: City, store: Store, app_settings: Settings
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kafka = app_settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
    app = create_app(city, store, app_settings, KafkaBus(kafka, timeout_s=1.0))
    c = TestClient(app, follow_redirects=False)
    c.post("/login", data={"username": "drainage", "password": PASSWORDS["drainage"]})
    r = c.post(
        "/api/incidents/flood-1/actions",
        json={"action": "accept"},
        headers={"x-csrf-token": csrf_of(c, "/inbox")},
    )
    assert r.status_code == 202 and r.json()["sent"] is False and r.headers["retry-after"]
    assert [a.emitted for a in WebStore(store).actions("flood-1")] == [False]
