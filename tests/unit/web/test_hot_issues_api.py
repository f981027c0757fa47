"""/api/hot-issues and the dashboard's hot-issues panel over a real SQLite store: every operator
sees title, place, count, trend and time range; member tickets only roles that read ticket
text; dispatchers none of it (city-wide operations data)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from citybrain.core.hot_live import LiveHotIssue
from citybrain.store import Store

from .conftest import ClientFor

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
ISSUE = LiveHotIssue(
    id="hti-1", title="B3区翠湖湾小区：油烟", place="B3区翠湖湾小区", status="open",
    opened_at=T0, updated_at=T0 + timedelta(hours=2), first_at=T0 - timedelta(days=3),
    last_at=T0, count=6, residents=5, recent=2, hotness=9.5,
    members=("T1", "T2", "T3", "T4", "T5", "T6"),
    texts=("翠湖湾小区楼下烧烤店油烟太大 [PHONE]", "翠湖湾小区临街餐馆油烟扰民"),
)  # fmt: skip


def _stored(store: Store) -> None:
    store.write_hot_issues([ISSUE, replace(ISSUE, id="hti-0", hotness=3.0, status="closed")])
    store.write_hot_issues([replace(ISSUE, count=7, members=(*ISSUE.members, "T7"))])  # upsert


def test_operators_see_the_issue_and_not_its_tickets(client_for: ClientFor, store: Store) -> None:
    _stored(store)
    body = client_for("operator").get("/api/hot-issues").json()
    assert [(h["id"], h["count"], h["recent"], h["place"]) for h in body] == [
        ("hti-1", 7, 2, "B3区翠湖湾小区")
    ]
    assert body[0]["time_range"] == ["2026-04-28T08:00:00+00:00", "2026-05-01T08:00:00+00:00"]
    assert "members" not in body[0] and "texts" not in body[0]
    everything = client_for("operator").get("/api/hot-issues?open_only=false").json()
    assert [h["id"] for h in everything] == ["hti-1", "hti-0"]  # hottest first


def test_admins_read_the_member_tickets(client_for: ClientFor, store: Store) -> None:
    _stored(store)
    one = client_for("admin").get("/api/hot-issues/hti-1").json()
    assert one["members"] == ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]
    assert one["texts"][0] == {"ticket_id": "T1", "text": "翠湖湾小区楼下烧烤店油烟太大 [PHONE]"}
    assert client_for("admin").get("/api/hot-issues/hti-9").status_code == 404
    assert client_for("drainage").get("/api/hot-issues/hti-1").status_code == 403


def test_the_dashboard_panel_carries_no_ticket_text(client_for: ClientFor, store: Store) -> None:
    _stored(store)
    panels = client_for("admin").get("/api/metrics").json()
    assert [h["title"] for h in panels["hot_issues"]] == ["B3区翠湖湾小区：油烟"]
    assert "texts" not in panels["hot_issues"][0]
    assert "hot_issues" not in client_for("drainage").get("/api/metrics").json()
    assert "hot_issues" in client_for("operator").get("/static/dashboard.js").text
