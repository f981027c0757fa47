"""Bad input: expired or forged sessions, unknown ids and filters, a flood of incidents, a live
view that loses its connection and catches up."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app
from citybrain.web.auth import COOKIE

from .conftest import NOW, ClientFor, csrf_of, incident


def live(
    client: TestClient, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    with client.stream(
        "GET", "/api/live", params={"max_events": 1, **params}, headers=headers or {}
    ) as r:
        assert r.status_code == 200, r.read()
        lines = list(r.iter_lines())
    event_id = next(x[4:] for x in lines if x.startswith("id: "))
    msg = json.loads(next(x[6:] for x in lines if x.startswith("data: ")))
    assert msg["cursor"] == event_id
    return msg


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:  # signed 9 hours ago; sessions last 8
        return int(time.time()) - 9 * 3600


def test_expired_and_forged_sessions(client_for: ClientFor, app_settings: Settings) -> None:
    c = client_for(None)
    old = URLSafeTimedSerializer(
        app_settings.web.session_secret, salt="citybrain.session", signer=_OldSigner
    ).dumps({"u": "operator", "c": "t"})
    c.cookies.set(COOKIE, old)
    page = c.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/&expired=1"
    assert "session expired" in c.get("/login?expired=1").text
    assert "expired" in c.get("/api/incidents").json()["detail"]
    other = URLSafeTimedSerializer("another-secret", salt="citybrain.session").dumps(
        {"u": "admin", "c": "t"}
    )
    c.cookies.set(COOKIE, other)
    assert c.get("/api/incidents").json()["detail"] == "invalid session"
    ghost = URLSafeTimedSerializer(app_settings.web.session_secret, salt="citybrain.session")
    c.cookies.set(COOKIE, ghost.dumps({"u": "removed-user", "c": "t"}))
    assert c.get("/api/incidents").json()["detail"] == "unknown user"


def test_login_redirects_stay_on_this_site(client_for: ClientFor) -> None:
    c = client_for(None)
    for target, expected in (
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/incidents", "/incidents"),
    ):
        r = c.post(
            "/login", data={"username": "operator", "password": "operator-demo", "next": target}
        )
        assert r.headers["location"] == expected


def test_unknown_ids_and_filters(client_for: ClientFor) -> None:
    op = client_for("admin")
    page = op.get("/incidents/does-not-exist", headers={"accept": "text/html"})
    assert page.status_code == 404 and "no incident does-not-exist" in page.text
    assert op.get("/api/incidents/does-not-exist").status_code == 404
    assert op.get("/incidents/flood-1/evidence/nope/snapshot.jpg").status_code == 404
    assert (
        op.get("/incidents/flood-1/evidence/o-flood-1/snapshot.jpg").status_code == 404
    )  # a ticket
    assert (
        op.post(
            "/api/incidents/nope/actions", json={"action": "accept"}, headers={"x-csrf-token": "x"}
        ).status_code
        == 403
    )  # a wrong token is refused before anything is looked up
    csrf = csrf_of(op, "/incidents")
    r = op.post(
        "/api/incidents/nope/actions", json={"action": "accept"}, headers={"x-csrf-token": csrf}
    )
    assert r.status_code == 404 and "nope" in r.text
    for params, msg in (
        ({"category": "meteor"}, "unknown category"),
        ({"district": "atlantis"}, "unknown district"),
        ({"range": "3y"}, "range must be one of"),
        ({"page": "0"}, "page"),
        ({"page_size": "100000"}, "page_size"),
        ({"status": "weird"}, "status"),
    ):
        r = op.get("/api/incidents", params=params)
        assert r.status_code == 422 and msg in json.dumps(r.json()), (params, r.json())
    assert op.get("/inbox", params={"department": "nowhere"}).status_code == 404
    assert op.get("/no/such/page", headers={"accept": "text/html"}).status_code == 404


def test_live_feed_resumes_from_its_cursor(client_for: ClientFor, city: City, store: Store) -> None:
    op = client_for("operator")
    first = live(op)
    assert first["reset"] and len(first["incidents"]) == 5 and first["hidden"] == 0
    assert set(first["panels"]) >= {"by_category", "sla", "quality", "pipelines", "cameras"}
    # While the browser is away, one incident is written and one is resolved by a dispatcher.
    w, d = incident(city, "late-1", "pothole", "jiangbin", (120.16, 30.24))
    store.write_incidents([w], [d])
    triage = client_for("admin")
    token = triage.post("/api/token", json={"username": "admin", "password": "admin-demo"}).json()
    r = triage.post(
        "/api/incidents/bin-1/actions",
        json={"action": "resolve", "reason": "emptied"},
        headers={"authorization": f"Bearer {token['token']}"},
    )
    assert r.status_code == 201
    # The browser reconnects with Last-Event-ID, as EventSource does by itself.
    resumed = live(op, headers={"last-event-id": first["cursor"]})
    assert not resumed["reset"]
    changed = {i["id"]: i["status"] for i in resumed["incidents"]}
    assert changed["late-1"] == "open" and changed["bin-1"] == "resolved"
    assert resumed["cursor"] > first["cursor"]
    # ?since= works the same for clients that cannot set headers.
    assert {i["id"] for i in live(op, since=first["cursor"])["incidents"]} >= {"late-1", "bin-1"}
    # Once the short overlap behind the cursor has passed, nothing is sent twice.
    time.sleep(2.1)
    settled = live(op, headers={"last-event-id": resumed["cursor"]})
    assert live(op, headers={"last-event-id": settled["cursor"]})["incidents"] == []
    # A cursor that cannot be read starts over from a snapshot instead of failing.
    again = live(op, headers={"last-event-id": "yesterday-ish"})
    assert again["reset"] and {i["id"] for i in again["incidents"]} == {
        "flood-1",
        "flood-2",
        "pothole-1",
        "old-fire",
        "late-1",
    }


def test_a_flood_of_incidents_stays_paginated_and_aggregated(
    city: City, store: Store, app_settings: Settings
) -> None:
    """1,000 incidents written within a minute: the page gets bounded messages and lists."""
    # panels are cached for one live interval; keep it short so the catch-up sees the flood
    web = app_settings.web.model_copy(
        update={"map_max_markers": 200, "page_size": 50, "live_interval_s": 0.001}
    )
    app = create_app(city, store, app_settings.model_copy(update={"web": web}))
    op = TestClient(app, follow_redirects=False, headers={"accept-language": "en"})
    op.post("/login", data={"username": "operator", "password": "operator-demo"})
    before = live(op)
    cats = ["pothole", "overflowing_bin", "noise", "streetlight_out"]
    districts = [d.id for d in city.districts]
    batch = [
        incident(
            city,
            f"flood-{n:04d}",
            cats[n % 4],
            districts[n % 6],
            (120.11 + (n % 90) / 1000, 30.24 + (n % 50) / 1000),
            minutes_ago=n % 60,
        )
        for n in range(1000)
    ]
    for i in range(0, 1000, 250):
        store.write_incidents(
            [w for w, _ in batch[i : i + 250]], [d for _, d in batch[i : i + 250]]
        )
    caught_up = live(op, headers={"last-event-id": before["cursor"]})
    assert caught_up["reset"]  # more changed than the map shows: a bounded snapshot instead
    assert len(caught_up["incidents"]) == 200 and caught_up["hidden"] == 1005 - 200
    assert sum(caught_up["panels"]["by_category"].values()) == 1005  # counted, not listed
    size = len(json.dumps(caught_up))
    assert size < 200_000, size
    r = op.get("/api/incidents", params={"page": 3, "page_size": 50})
    assert len(r.json()) == 50 and r.headers["x-total-count"] == "1005"
    html = op.get("/incidents", params={"page": 2}).text
    assert html.count("data-incident=") == 50 and 'id="next"' in html and "Page 2 of 21" in html
    assert op.get("/incidents", params={"page": 999}).status_code == 200  # past the end: empty


def test_sla_counts_near_and_past(client_for: ClientFor, city: City, store: Store) -> None:
    # flooding: 60-minute SLA, near at 45 minutes; 50 minutes old is near, 70 is past. Ages
    # are counted from the page's clock, and NOW was taken when the suite imported conftest.
    late = int((datetime.now(UTC) - NOW).total_seconds() // 60)
    for iid, ago in (("f-near", 50), ("f-past", 70)):
        w, d = incident(city, iid, "flooding", "nanhu", (120.12, 30.24), minutes_ago=ago - late)
        store.write_incidents([w], [d])
    sla = client_for("operator").get("/api/metrics").json()["sla"]["flooding"]
    assert sla == {"open": 4, "near": 1, "past": 1}
    assert NOW - timedelta(minutes=70) < datetime.now(UTC)


def test_signing_out_revokes_every_copy_of_the_session(client_for: ClientFor) -> None:
    """A copied cookie (another browser, a stolen one) stops working once its owner signs
    out; so does an API token revoked by its holder."""
    drainage = client_for("drainage")
    cookie = drainage.cookies.get(COOKIE)
    copy = client_for(None)
    copy.cookies.set(COOKIE, cookie)
    assert copy.get("/api/incidents").status_code == 200
    assert drainage.post("/logout", data={"csrf_token": csrf_of(drainage)}).status_code == 303
    r = copy.get("/api/incidents")
    assert r.status_code == 401 and "signed out" in r.json()["detail"]

    api = client_for(None)
    token = api.post("/api/token", json={"username": "roads", "password": "roads-demo"}).json()
    bearer = {"authorization": f"Bearer {token['token']}"}
    assert api.get("/api/incidents", headers=bearer).status_code == 200
    assert api.post("/api/token/revoke", headers=bearer).status_code == 204
    assert api.get("/api/incidents", headers=bearer).status_code == 401
    # a fresh sign-in is a new session and works
    again = client_for("drainage")
    assert again.get("/api/incidents").status_code == 200
