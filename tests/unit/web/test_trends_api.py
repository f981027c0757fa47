"""GET /api/trends: the dashboard's charts, scoped like every list, and its bad input."""

from __future__ import annotations

from .conftest import ClientFor


def test_trends_are_scoped_filtered_and_checked(client_for: ClientFor) -> None:
    op = client_for("operator")
    t = op.get("/api/trends").json()
    assert t["bucket"] == "hour" and len(t["starts"]) == 48
    opened = {k: sum(v) for k, v in t["opened"].items()}
    assert opened == {
        "flooding": 2,
        "pothole": 1,
        "overflowing_bin": 1,
        "smoke_fire": 1,
    }
    # old-fire opened 20 minutes ago with a 15-minute SLA, still open: one breach
    assert {k: sum(v) for k, v in t["sla_breaches"].items()} == {"smoke_fire": 1}
    assert sum(t["decided_by"]["rule"]) == 5
    only = op.get("/api/trends?category=flooding&bucket=day").json()
    assert len(only["starts"]) == 30 and set(only["opened"]) == {"flooding"}
    # a dispatcher counts their own department's only, whatever they ask for
    drain = client_for("drainage").get("/api/trends").json()
    assert {k: sum(v) for k, v in drain["opened"].items()} == {"flooding": 2}
    for bad in ("bucket=week", "category=nope", "district=atlantis"):
        r = op.get(f"/api/trends?{bad}")
        assert r.status_code == 422, bad
    assert client_for(None).get("/api/trends").status_code == 401
