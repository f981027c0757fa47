"""Dispatchers reach only their own department's incidents, through the pages and the API."""

from __future__ import annotations

import json

from .conftest import ClientFor, csrf_of


def _live(client, **params):  # type: ignore[no-untyped-def]
    with client.stream("GET", "/api/live", params={"max_events": 1, **params}) as r:
        assert r.status_code == 200
        data = next(line for line in r.iter_lines() if line.startswith("data: "))
    return json.loads(data[6:])


def test_dispatcher_cannot_read_another_departments_incident(client_for: ClientFor) -> None:
    drainage = client_for("drainage")
    assert {i["id"] for i in drainage.get("/api/incidents").json()} == {"flood-1", "flood-2"}
    for path in ("/incidents/pothole-1", "/incidents/pothole-1/evidence/o-pothole-1/snapshot.jpg"):
        r = drainage.get(path, headers={"accept": "text/html"})
        assert r.status_code == 404, path
        assert "nanhu" not in r.text and "Municipal Roads" not in r.text  # nothing leaks
    assert drainage.get("/api/incidents/pothole-1").status_code == 404
    assert drainage.get("/api/feedback", params={"incident_id": "pothole-1"}).status_code == 404
    assert {d["department"] for d in drainage.get("/api/dispatches").json()} == {"water_drainage"}
    assert len(drainage.get("/api/dispatches", params={"page_size": 1}).json()) == 1
    assert drainage.get("/api/dispatches", params={"page": 3}).json() == []
    assert drainage.get("/inbox", params={"department": "city_roads"}).status_code == 404
    # Asking for another department in filters does not widen the scope.
    forced = drainage.get("/api/incidents", params={"department": "city_roads"}).json()
    assert {i["id"] for i in forced} == {"flood-1", "flood-2"}
    msg = _live(drainage)
    assert {i["id"] for i in msg["incidents"]} == {"flood-1", "flood-2"}
    assert msg["panels"]["by_department"] == {"water_drainage": 2}
    inbox = drainage.get("/inbox").text
    assert "flood-1" in inbox and "pothole-1" not in inbox and "bin-1" not in inbox


def test_dispatcher_cannot_act_on_another_departments_incident(client_for: ClientFor) -> None:
    drainage = client_for("drainage")
    csrf = csrf_of(drainage)
    r = drainage.post(
        "/incidents/pothole-1/actions",
        data={"action": "accept", "csrf_token": csrf},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 404
    api = drainage.post(
        "/api/incidents/pothole-1/actions",
        json={"action": "resolve", "reason": "not mine but closing"},
        headers={"x-csrf-token": csrf},
    )
    assert api.status_code == 404
    roads = client_for("roads")
    assert roads.get("/api/incidents/pothole-1").json()["state"] == "new"  # untouched
    assert roads.get("/api/feedback").json() == []


def test_bearer_tokens_follow_the_same_rules(client_for: ClientFor) -> None:
    anon = client_for(None)
    bad = anon.post("/api/token", json={"username": "drainage", "password": "wrong"})
    assert bad.status_code == 401
    token = anon.post(
        "/api/token", json={"username": "drainage", "password": "drainage-demo"}
    ).json()["token"]
    h = {"authorization": f"Bearer {token}"}
    assert anon.get("/api/incidents/pothole-1", headers=h).status_code == 404
    assert anon.get("/api/incidents/flood-1", headers=h).status_code == 200
    # No cookie, so no CSRF token is needed for a bearer request.
    ok = anon.post("/api/incidents/flood-1/actions", json={"action": "accept"}, headers=h)
    assert ok.status_code == 201 and ok.json()["feedback"]["action"] == "accept"
    forged = {"authorization": f"Bearer {token[:-2]}xx"}
    assert anon.get("/api/incidents", headers=forged).json()["detail"] == "invalid session"
