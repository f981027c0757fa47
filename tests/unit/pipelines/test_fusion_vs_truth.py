"""Cameras and tickets through the real stage code (camera rules with ByteTrack, the ticket
stage, fusion), scored against the simulator's ground truth: every event with evidence gets
exactly one incident, duplicate reports and camera frames of one event gather in it, and two
different events near each other stay two. Detections are the simulator's boxes with a fifth
dropped and occasional false boxes (tools/fusion_quality.py), so this judges rules and fusion,
not the demo detector."""

from __future__ import annotations

from itertools import combinations

import pytest

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.geo import metres_between
from citybrain.sim import simulate
from tools.fusion_quality import START, evaluate

NEAR_M = 1500.0


@pytest.mark.parametrize(("seed", "events"), [(0, None), (2, 30)])
def test_one_incident_per_event_and_near_events_stay_apart(
    settings: Settings, city: City, seed: int, events: int | None
) -> None:
    q = evaluate(settings, city, seed, events)
    assert q.truth_problems == []
    assert q.events_with_evidence > 0 and q.events_found == q.events_with_evidence
    assert q.extra_incidents == 0 and q.precision == 1.0
    assert q.stats["camera_events.opened"] > 0 and q.stats["camera_events.cleared"] > 0

    n = settings.simulator.events if events is None else events
    scenario = simulate(
        city, settings.simulator.model_copy(update={"seed": seed, "events": n}), START
    ).scenario
    near = [
        (a, b)
        for a, b in combinations(scenario.events, 2)
        if a.overlaps(b)
        and metres_between(a.lon, a.lat, b.lon, b.lat) < NEAR_M
        and a.id in q.incidents_of_event
        and b.id in q.incidents_of_event
    ]
    for a, b in near:
        assert q.incidents_of_event[a.id].isdisjoint(q.incidents_of_event[b.id]), (a.id, b.id)
    if events:  # the crowded city always has some
        assert near
