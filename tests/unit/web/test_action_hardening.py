"""Dispatcher actions: free text is redacted before it travels, and the department that acts
is checked again inside the write (an incident moved meanwhile cannot be acted on)."""

from __future__ import annotations

import pytest

from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.web_queries import ActionError, WebStore

from .conftest import ClientFor, csrf_of


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
