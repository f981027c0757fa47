"""The continuous load mode's verdict over a real SQLite store: an incident still open past
its idle timeout (and the slack) before the run's newest evidence is overdue; one resolved, or
whose timeout has not come, is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.chaos.load_continuous import overdue
from citybrain.core.incident import Incident
from citybrain.core.messages import GeoPoint, Observation, RoutingDecision
from citybrain.store import IncidentWrite, Store

T = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def _write(store: Store, iid: str, last: datetime, resolved: bool) -> None:
    obs = Observation(
        id=f"o-{iid}", source="ticket", source_id=f"T-{iid}", category="flooding",
        confidence=0.9, observed_at=last, location=GeoPoint(lon=120.128, lat=30.287),
        district="xicheng", precision="point", text="water",
    )  # fmt: skip
    inc = Incident(
        id=iid, category="flooding", district="xicheng", location=obs.location,
        opened_at=last, updated_at=last, evidence_ids=(obs.id,), ticket_count=1,
        status="resolved" if resolved else "open",
        resolved_at=last + timedelta(seconds=60) if resolved else None,
        resolved_by="timeout" if resolved else None,
        routing=RoutingDecision(department="water_drainage", decided_by="rule", reason="list"),
    )  # fmt: skip
    store.write_incidents([IncidentWrite(inc, [obs])])


def test_only_an_incident_open_past_its_timeout_is_overdue(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    _write(store, "stuck", T, resolved=False)  # 10 minutes before the newest evidence
    _write(store, "closed", T, resolved=True)
    _write(store, "recent", T + timedelta(minutes=10), resolved=False)  # the newest evidence
    verdict = overdue(store, idle_resolve_s=60.0, slack_s=30.0)
    assert verdict["overdue"] == 1 and verdict["overdue_ids"] == ["stuck"]
    assert verdict["should_have_resolved"] == 2 and verdict["resolved_by_timeout"] == 1
