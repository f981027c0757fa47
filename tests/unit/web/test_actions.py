"""Dispatcher actions: stored, reflected in inboxes, audit and routing-quality figures."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.messages import Dispatch
from citybrain.store import Store
from citybrain.store.models import DispatchRow
from citybrain.store.web_queries import WebStore
from citybrain.web.app import create_app

from .conftest import PASSWORDS, ClientFor, csrf_of, incident


def _act(client, iid: str, csrf: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/incidents/{iid}/actions",
        data={"csrf_token": csrf, **form},
        headers={"accept": "text/html"},
    )


def test_accept_reassign_reject_resolve(client_for: ClientFor, store: Store) -> None:
    drainage = client_for("drainage")
    csrf = csrf_of(drainage)
    r = _act(drainage, "flood-1", csrf, action="accept", next="/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/inbox?done=accept"
    assert drainage.get("/api/incidents/flood-1").json()["state"] == "accepted"

    r = _act(
        drainage,
        "flood-2",
        csrf,
        action="reassign",
        department="city_roads",
        reason="road collapse, not drainage",
    )
    assert r.status_code == 303
    assert drainage.get("/api/incidents/flood-2").status_code == 404  # no longer theirs
    roads = client_for("roads")
    held = roads.get("/api/incidents/flood-2").json()
    assert held["department"] == "city_roads" and held["state"] == "new"
    assert held["routing"]["department"] == "water_drainage"  # the original decision stays

    r = _act(roads, "flood-2", csrf_of(roads), action="reject", reason="it is water after all")
    assert r.status_code == 303
    triage = client_for("triage")
    assert triage.get("/api/incidents/flood-2").json()["department"] == "hotline_triage"
    # Triage cannot bounce it further with "not ours": it must reassign.
    r = _act(triage, "flood-2", csrf_of(triage), action="reject", reason="x")
    assert r.status_code == 409 and "reassign it instead" in r.text
    r = _act(triage, "flood-2", csrf_of(triage), action="resolve", reason="pumped out")
    assert r.status_code == 303
    closed = triage.get("/api/incidents/flood-2").json()
    assert closed["status"] == "resolved"
    assert "flood-2" not in triage.get("/inbox").text
    r = _act(triage, "flood-2", csrf_of(triage), action="accept")
    assert r.status_code == 409 and "already resolved" in r.text

    # Every action stored, in order, with the departments it moved between.
    actions = WebStore(store).actions("flood-2")
    assert [(a.action, a.department_from, a.department_to, a.actor) for a in actions] == [
        ("reassign", "water_drainage", "city_roads", "drainage"),
        ("reject", "city_roads", "hotline_triage", "roads"),
        ("resolve", "hotline_triage", "hotline_triage", "triage"),
    ]
    assert not any(a.emitted for a in actions)  # no bus in this app: the outbox keeps them
    moves = [d for d in store.dispatches() if d.incident_id == "flood-2"]
    assert [(d.department, d.decided_by) for d in moves] == [
        ("water_drainage", "rule"),
        ("city_roads", "dispatcher"),
        ("hotline_triage", "dispatcher"),
    ]
    audit = client_for("admin").get("/api/incidents/flood-2").json()["audit"]
    assert [a["what"] for a in audit if a["kind"] == "action"] == [
        "reassign water_drainage → city_roads",
        "reject city_roads → hotline_triage",
        "resolve",
    ]
    feedback = client_for("admin").get("/api/feedback", params={"incident_id": "flood-2"}).json()
    assert [(f["action"], f["department"]) for f in feedback] == [
        ("reassign", "city_roads"),
        ("reject", "hotline_triage"),
        ("resolve", None),
    ]

    quality = client_for("operator").get("/api/metrics").json()["quality"]
    assert quality["by_category"]["flooding"] == {"routed": 2, "redispatched": 1, "rate": 0.5}
    assert quality["by_method"]["rule"]["redispatched"] == 1
    assert isinstance(store.dispatches()[0], DispatchRow)


def test_invalid_form_input_is_refused_with_a_reason(client_for: ClientFor) -> None:
    drainage = client_for("drainage")
    csrf = csrf_of(drainage)
    cases = [
        ({"action": "reassign", "department": "city_roads"}, "reassign needs a reason"),
        ({"action": "reassign", "reason": "x"}, "reassign needs a department"),
        ({"action": "resolve", "reason": "   "}, "resolve needs a note"),
        ({"action": "reject"}, "reject needs a reason"),
        ({"action": "explode"}, "action: Input should be"),
        ({"action": "accept", "reason": "x" * 2001}, "reason: String should have at most 2000"),
        (
            {"action": "reassign", "department": "ministry_of_magic", "reason": "x"},
            "unknown department",
        ),
        ({"action": "accept", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ]
    for form, message in cases:
        r = _act(drainage, "flood-1", csrf, **form)
        assert r.status_code == 422, form
        assert message in r.text, (form, r.text[-400:])
    assert drainage.get("/api/incidents/flood-1").json()["state"] == "new"  # nothing happened
    api = drainage.post(
        "/api/incidents/flood-1/actions", json={"action": "resolve"}, headers={"x-csrf-token": csrf}
    )
    assert api.status_code == 422 and "resolve needs a note" in str(api.json()["detail"])


def test_csrf_is_required_for_cookie_requests(client_for: ClientFor) -> None:
    drainage = client_for("drainage")
    for form in ({"action": "accept"}, {"action": "accept", "csrf_token": "forged"}):
        r = drainage.post("/incidents/flood-1/actions", data=form, headers={"accept": "text/html"})
        assert r.status_code == 403 and "CSRF" in r.text
    r = drainage.post("/api/incidents/flood-1/actions", json={"action": "accept"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert drainage.post("/logout", data={}).status_code == 403
    # Another user's token does not work with this session.
    roads_csrf = csrf_of(client_for("roads"))
    r = drainage.post(
        "/incidents/flood-1/actions", data={"action": "accept", "csrf_token": roads_csrf}
    )
    assert r.status_code == 403
    assert drainage.get("/api/incidents/flood-1").json()["state"] == "new"


def test_a_resolved_incident_that_reopens_is_back_in_the_inbox(
    client_for: ClientFor, store: Store, city: City
) -> None:
    """A dispatcher resolved it; then the problem came back and fusion reopened it. The
    department must see it again as new, and be able to act on it."""
    drainage = client_for("drainage")
    assert (
        _act(
            drainage, "flood-1", csrf_of(drainage), action="resolve", reason="pumped out"
        ).status_code
        == 303
    )
    assert drainage.get("/api/incidents/flood-1").json()["status"] == "resolved"
    assert 'data-incident="flood-1"' not in drainage.get("/inbox").text

    w, _ = incident(city, "flood-1", "flooding", "xicheng", (120.128, 30.287), minutes_ago=1)
    store.write_incidents([replace(w, incident=replace(w.incident, status="reopened"))])
    back = drainage.get("/api/incidents/flood-1").json()
    assert back["status"] == "reopened" and back["state"] == "new"
    assert 'data-incident="flood-1"' in drainage.get("/inbox").text
    assert _act(drainage, "flood-1", csrf_of(drainage), action="accept").status_code == 303
    assert drainage.get("/api/incidents/flood-1").json()["state"] == "accepted"


def test_a_reassignment_reaches_the_new_departments_webhook(
    city: City, store: Store, app_settings: Settings
) -> None:
    """The dispatch job's senders deliver what the outbox holds; a dispatcher's move puts the
    new department's dispatch there in the same transaction as the action."""
    hooks = {"city_roads": "http://127.0.0.1:9/roads-hook"}
    s = app_settings.model_copy(
        update={"dispatch": app_settings.dispatch.model_copy(update={"webhooks": hooks})}
    )
    drainage = TestClient(create_app(city, store, s), follow_redirects=False)
    drainage.post("/login", data={"username": "drainage", "password": PASSWORDS["drainage"]})
    r = _act(
        drainage, "flood-2", csrf_of(drainage), action="reassign", department="city_roads",
        reason="road collapse, not drainage",
    )  # fmt: skip
    assert r.status_code == 303
    [delivery] = store.deliveries("city_roads")
    sent = Dispatch.model_validate_json(delivery.payload)
    assert delivery.status == "pending" and delivery.url == hooks["city_roads"]
    assert (sent.incident_id, sent.department, sent.routing.decided_by) == (
        "flood-2", "city_roads", "dispatcher",
    )  # fmt: skip
    assert delivery.id == sent.id  # the idempotency key is the dispatch id
    assert store.deliveries("water_drainage") == []  # no webhook configured there
