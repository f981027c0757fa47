"""Every route for every role, from the one access table (web/access.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.access import OPS_PANELS, ROUTES
from citybrain.web.app import create_app

from .conftest import ClientFor, csrf_of

ROLES = (None, "operator", "admin", "drainage")  # drainage: a water_drainage dispatcher
PUBLIC = {
    "/login": 200,
    "/healthz": 200,
    "/readyz": 200,
    "/favicon.ico": 204,
    "/openapi.json": 200,
    "/open311/v2/services.json": 200,
    "/open311/v2/requests.json": 200,
    "/open311/v2/requests/311-x.json": 404,
    "/metrics": 200,  # web.demo_mode without web.metrics_token: the demo
    "/lang/zh": 303,  # the language choice, for the sign-in page too
}
# Signed in: what operators and admins get; None = the same for a dispatcher.
SIGNED_IN: dict[str, tuple[int, int | None]] = {
    "/api/hotspots": (200, 403),
    "/api/hot-issues": (200, 403),
    "/api/hot-issues/hti-none": (404, 403),
    "/api/stats": (200, 403),
    "/": (200, None),
    "/inbox": (200, None),
    "/incidents": (200, None),
    "/incidents/flood-1": (200, None),
    "/incidents/pothole-1": (200, 404),  # city_roads' incident
    "/incidents/flood-1/evidence/o-flood-1/snapshot.jpg": (404, None),  # a ticket: no frame
    "/api/incidents": (200, None),
    "/api/incidents/flood-1": (200, None),
    "/api/incidents/pothole-1": (200, 404),
    "/api/evidence/o-flood-2/similar": (422, None),  # no embedding in the fixture
    "/api/evidence/o-pothole-1/similar": (422, 404),
    "/api/dispatches": (200, None),
    "/api/feedback": (200, None),
    "/api/metrics": (200, None),
    "/api/live?max_events=1": (200, None),
    "/api/trends": (200, None),
    "/cameras": (200, 403),
    "/triage": (200, None),
}


def _api_routes(routes: list[Any]) -> list[Route]:
    """The app's routes, looking into included routers (static files are a mount)."""
    out: list[Route] = []
    for r in routes:
        if isinstance(r, APIRoute | Route):
            out.append(r)
        elif hasattr(r, "original_router"):
            out.extend(_api_routes(r.original_router.routes))
    return out


def test_every_route_of_the_app_is_in_the_access_table(client_for: ClientFor) -> None:
    app: Any = client_for(None).app
    routes = {(m, r.path) for r in _api_routes(app.routes) for m in r.methods or () if m != "HEAD"}
    assert routes == set(ROUTES)
    tested = {p.split("?")[0] for p in (*PUBLIC, *SIGNED_IN)}
    patterns = {path for (method, path) in ROUTES if method == "GET"}
    assert {pat for pat in patterns for t in tested if _matches(pat, t)} == patterns


def _matches(pattern: str, path: str) -> bool:
    a, b = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or "{" in x for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_for_every_role(client_for: ClientFor, role: str | None) -> None:
    c = client_for(role)
    got = {path: c.get(path).status_code for path in (*PUBLIC, *SIGNED_IN)}
    want = dict(PUBLIC)
    for path, (ops, dispatcher) in SIGNED_IN.items():
        if role is None:
            want[path] = 401
        elif role == "drainage":
            want[path] = ops if dispatcher is None else dispatcher
        else:
            want[path] = ops
    assert got == want


def test_dispatchers_get_no_city_wide_panels(client_for: ClientFor) -> None:
    assert set(client_for("operator").get("/api/metrics").json()) >= OPS_PANELS
    panels = set(client_for("drainage").get("/api/metrics").json())
    assert panels and not panels & OPS_PANELS


def test_a_404_for_other_departments_evidence_names_no_incident(client_for: ClientFor) -> None:
    r = client_for("drainage").get("/api/evidence/o-pothole-1/similar")
    assert r.status_code == 404 and "pothole-1" not in r.json()["detail"].replace("o-pothole-1", "")


def test_feedback_is_filtered_before_it_is_limited(client_for: ClientFor) -> None:
    admin = client_for("admin")
    token = csrf_of(admin, "/incidents")
    for _ in range(3):  # admin moves flood-1 back and forth: actions of other departments
        for dept in ("city_roads", "water_drainage"):
            r = admin.post(
                "/api/incidents/flood-1/actions",
                json={"action": "reassign", "department": dept, "reason": "test"},
                headers={"x-csrf-token": token},
            )
            assert r.status_code == 201, r.text
    r = admin.post(
        "/api/incidents/bin-1/actions", json={"action": "accept"}, headers={"x-csrf-token": token}
    )
    assert r.status_code == 201
    sanitation = client_for("sanitation").get("/api/feedback", params={"limit": 1}).json()
    assert [f["incident_id"] for f in sanitation] == ["bin-1"]  # not cut off by the others


def test_metrics_outside_demo_mode_need_the_token_or_an_operator(
    city: City, store: Store, served_settings: Settings
) -> None:
    s = served_settings.model_copy(
        update={"web": served_settings.web.model_copy(update={"metrics_token": "m-1"})}
    )
    c = TestClient(create_app(city, store, s))
    assert c.get("/metrics").status_code == 403
    assert c.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
    assert c.get("/metrics", headers={"authorization": "Bearer m-1"}).status_code == 200
    assert (
        "citybrain_open_incidents"
        in c.get("/metrics", headers={"authorization": "Bearer m-1"}).text
    )
