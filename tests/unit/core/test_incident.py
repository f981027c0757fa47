"""The one incident type: its `<prefix>.incidents` message round-trips exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from citybrain.core.incident import Incident
from citybrain.core.messages import GeoPoint, LabelScore, RouterAdvice, RoutingDecision

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def full() -> Incident:
    """Every field set away from its default, so a dropped field cannot hide."""
    return Incident(
        id="inc-1",
        category="flooding",
        district="xicheng",
        location=GeoPoint(lon=120.128, lat=30.287),
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=5),
        status="reopened",
        resolved_at=None,
        evidence_ids=("o1", "o2", "o3"),
        camera_count=1,
        ticket_count=2,
        severity="high",
        cell="84309a",
        resolved_by=None,
        camera_events=("flooding@cam-01/roadway",),
        cameras=("cam-01",),
        reopened=2,
        routing=RoutingDecision(
            department="water_drainage",
            decided_by="router",
            reason="router: water_drainage at 0.9",
            advice=RouterAdvice(
                router="r-1", kind="department", top=(LabelScore(label="water_drainage", p=0.9),)
            ),
        ),
        summary="Flooding at Heping Road. [template]",
    )


def test_the_message_round_trips_every_field() -> None:
    inc = full()
    assert Incident.from_message(inc.to_message()) == inc
    resolved = replace(inc, status="resolved", resolved_at=T0, resolved_by="cameras")
    assert Incident.from_message(resolved.to_message()) == resolved


def test_an_unrouted_incident_is_not_published() -> None:
    with pytest.raises(ValueError, match="no routing"):
        replace(full(), routing=None).to_message()


def test_a_message_with_a_null_cell_reads_as_no_cell() -> None:
    """Versions written before the cell was always set carry null."""
    raw = replace(full(), cell="").to_message().replace(b'"cell":""', b'"cell":null')
    assert Incident.from_message(raw).cell == ""


@pytest.mark.parametrize(
    "change",
    [
        (b'"status":"reopened"', b'"status":"burning"'),
        (b'"reopened":2', b'"reopened":-1'),
        (b'"id":"inc-1"', b'"id":"inc-1","extra":1'),
    ],
)
def test_bad_messages_are_refused(change: tuple[bytes, bytes]) -> None:
    raw = full().to_message()
    assert change[0] in raw
    with pytest.raises(ValidationError):
        Incident.from_message(raw.replace(*change))


def test_priority_follows_severity() -> None:
    assert [replace(full(), severity=s).priority for s in ("critical", "high", "low", "?")] == [
        1, 2, 4, 3
    ]  # fmt: skip
