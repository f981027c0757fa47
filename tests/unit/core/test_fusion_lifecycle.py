"""Fusion lifecycle and scale: compatible categories, camera events clearing, dispatcher
resolve, reopen, severity with evidence, geo cells; and the order/replay properties with
camera evidence in the mix."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.config.incidents import IncidentSettings
from citybrain.core.cells import cell_of, cell_partition_key
from citybrain.core.city import City
from citybrain.core.fusion import Fuser
from citybrain.core.messages import GeoPoint, Observation

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
CAM01 = GeoPoint(lon=120.115, lat=30.272)  # cam-01, xicheng
NEAR01 = GeoPoint(lon=120.1155, lat=30.2722)  # ~55 m from cam-01
CAM03 = GeoPoint(lon=120.155, lat=30.272)  # cam-03, beicheng


def ticket(
    oid: str, minutes: float = 0, category: str = "flooding", at: GeoPoint = NEAR01
) -> Observation:
    return Observation(
        id=oid,
        source="ticket",
        source_id=f"T-{oid}",
        category=category,
        confidence=0.8,
        observed_at=T0 + timedelta(minutes=minutes),
        location=at,
        district="xicheng" if at != CAM03 else "beicheng",
    )


def camera(
    oid: str, state: str, minutes: float = 0, cam: str = "cam-01", category: str = "flooding"
) -> Observation:
    at = CAM01 if cam == "cam-01" else CAM03
    return Observation(
        id=oid,
        source="camera",
        source_id=cam,
        category=category,
        confidence=0.0 if state == "cleared" else 0.9,
        observed_at=T0 + timedelta(minutes=minutes),
        location=at,
        district="xicheng" if cam == "cam-01" else "beicheng",
        rule_id=f"{category}@{cam}/roadway",
        rule_state=state,  # type: ignore[arg-type]
        event_id=f"cev-{cam}-{category}",
    )


def fuser(city: City, **kw: object) -> Fuser:
    return Fuser(city, IncidentSettings(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("compatible", "incidents"),
    [({}, 2), ({"pothole": ["road_construction"]}, 1), ({"road_construction": ["pothole"]}, 1)],
)
def test_compatible_categories_share_an_incident(
    city: City, compatible: dict[str, list[str]], incidents: int
) -> None:
    f = fuser(city, compatible=compatible)
    f.apply(ticket("a", category="pothole"))
    f.apply(ticket("b", 3, category="road_construction"))
    assert len(f.incidents) == incidents
    assert {i.category for i in f.incidents.values()} >= {"pothole"}


def test_cameras_clearing_resolve_and_the_event_returning_reopens(city: City) -> None:
    f = fuser(city)
    opened = f.apply(camera("c1", "opened"))
    assert opened.created and opened.incident.camera_events == ("flooding@cam-01/roadway",)  # type: ignore[union-attr]
    f.apply(ticket("t1", 2))
    cleared = f.apply(camera("c2", "cleared", 10))
    inc = cleared.incident
    assert cleared.note == "resolved" and inc is not None
    assert (inc.status, inc.resolved_by, inc.camera_events) == ("resolved", "cameras", ())
    assert inc.evidence_ids == ("c1", "t1", "c2")  # the clearing is evidence too
    back = f.apply(camera("c3", "opened", 20))
    assert back.note == "reopened" and back.incident.id == inc.id  # type: ignore[union-attr]
    assert back.incident.status == "reopened" and back.incident.resolved_by is None  # type: ignore[union-attr]


def test_a_report_of_the_events_lifetime_arriving_after_it_cleared_joins_it(city: City) -> None:
    """The camera saw the event from 0 to 10 minutes; a ticket made at 5 comes after the clear
    (its queue fell behind). It is evidence of the same incident, which stays resolved: not a
    second incident of one event, not a reopening. The same ticket in time order joins it too,
    so the grouping no longer depends on which source came first."""
    f = fuser(city)
    f.apply(camera("c1", "opened"))
    inc = f.apply(camera("c2", "cleared", 10)).incident
    late = f.apply(ticket("t1", 5))
    assert late.note == "late" and late.changed and late.incident is not None
    assert late.incident.id == inc.id and len(f.incidents) == 1  # type: ignore[union-attr]
    assert (late.incident.status, late.incident.resolved_by, late.incident.reopened) == (
        "resolved",
        "cameras",
        0,
    )
    assert late.incident.evidence_ids == ("c1", "c2", "t1") and late.incident.camera_events == ()
    in_order = fuser(city)
    for obs in (camera("c1", "opened"), ticket("t1", 5), camera("c2", "cleared", 10)):
        in_order.apply(obs)
    [same] = in_order.incidents.values()
    assert same.id == inc.id and set(same.evidence_ids) == set(late.incident.evidence_ids)  # type: ignore[union-attr]
    after = f.apply(ticket("t2", 12))  # made after the clear: the event is back
    assert after.note == "reopened" and after.incident.id == inc.id  # type: ignore[union-attr]


def test_two_cameras_must_both_clear(city: City) -> None:
    f = fuser(city, fusion_radius_m=5000)
    f.apply(camera("a1", "opened"))
    f.apply(camera("b1", "opened", 1, cam="cam-03"))
    assert len(f.incidents) == 1
    assert f.apply(camera("a2", "cleared", 5)).note == "updated"
    assert f.apply(camera("b2", "cleared", 6, cam="cam-03")).note == "resolved"


def test_a_clear_with_no_open_event_changes_nothing(city: City) -> None:
    f = fuser(city)
    r = f.apply(camera("x", "cleared"))
    assert (r.incident, r.changed, r.note) == (None, False, "clear_unmatched")
    assert f.incidents == {} and f.apply(camera("x", "cleared")).note == "duplicate"


def test_dispatcher_resolve_then_new_evidence_reopens(city: City) -> None:
    f = fuser(city)
    inc = f.apply(ticket("a")).incident
    assert inc is not None
    done = f.resolve(inc.id, T0 + timedelta(minutes=5), by="dispatcher")
    assert done is not None and done.resolved_by == "dispatcher"
    assert f.resolve(inc.id, T0 + timedelta(minutes=6), by="dispatcher") is None  # already
    assert f.resolve("inc-nope", T0, by="dispatcher") is None
    back = f.apply(ticket("b", 7))
    assert back.note == "reopened" and back.incident is not None
    assert back.incident.reopened == 1 and back.incident.status == "reopened"
    later = f.apply(ticket("c", 8)).incident  # more evidence: still the first return
    assert later is not None and later.reopened == 1


@pytest.mark.parametrize(
    ("tickets", "cameras", "severity"),
    [(1, 0, "high"), (4, 0, "high"), (5, 0, "critical"), (1, 1, "critical")],
)
def test_severity_rises_with_evidence(
    city: City, tickets: int, cameras: int, severity: str
) -> None:
    f = fuser(city, severity_evidence_steps=[5, 20])  # flooding starts at high
    for i in range(tickets):
        f.apply(ticket(f"t{i}", i))
    for i in range(cameras):
        f.apply(camera(f"c{i}", "opened", 30 + i))
    (inc,) = f.incidents.values()
    assert inc.severity == severity
    assert inc.priority == {"high": 2, "critical": 1}[severity]


def test_pothole_priority_rises_from_medium(city: City) -> None:
    f = fuser(city, severity_evidence_steps=[3, 6])
    levels = [f.apply(ticket(f"t{i}", i, category="pothole")).incident.severity for i in range(6)]  # type: ignore[union-attr]
    assert levels == ["medium", "medium", "high", "high", "high", "critical"]


def test_evidence_in_another_cell_never_joins(city: City) -> None:
    """Cells key partitions; fusion never merges across them, so the result does not depend
    on which worker holds which partition."""
    f = fuser(city, fusion_radius_m=5000, partition_resolution=7)
    a, b = ticket("a"), ticket("b", 1, at=CAM03)
    assert f.cell(a) != f.cell(b)
    f.apply(a)
    f.apply(b)
    assert len(f.incidents) == 2
    g = fuser(city, fusion_radius_m=5000, partition_resolution=4)
    g.apply(a)
    g.apply(b)
    assert len(g.incidents) == 1


def test_cells(city: City) -> None:
    assert cell_of(city, None, None, 4) == "unlocated"
    district_only = cell_of(city, None, "xicheng", 4)
    assert district_only == cell_of(city, CAM01, "xicheng", 4)  # the sample city is one res-4 cell
    assert cell_partition_key(district_only).startswith("cell:8")


def test_late_observations_are_flagged_by_the_watermark(city: City) -> None:
    f = fuser(city, max_lateness_s=600)
    f.apply(ticket("a", 30))
    assert f.is_late(ticket("b", 19)) and not f.is_late(ticket("c", 21))
    assert not f.is_late(ticket("a", 30))  # already applied: a replay, not late


def test_lateness_is_judged_within_the_observations_cell(city: City) -> None:
    """Two partitions on one worker: one current, one backlogged by hours. The backlog is
    behind its own cell's evidence only, so it is fused, not dead-lettered as late."""
    f = fuser(city, max_lateness_s=600, partition_resolution=7)
    here, there = ticket("a", 300), ticket("b", 10, at=CAM03)
    assert f.cell(here) != f.cell(there)
    f.apply(here)  # this cell is five hours further on
    assert not f.is_late(there) and f.apply(there).created
    assert f.is_late(ticket("c", 280 - 11)) and not f.is_late(ticket("d", 0, at=CAM03))


EVENTS = [("cam-01", CAM01), ("cam-03", CAM03)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from(["ticket", "camera"]), st.integers(0, 60)),
        min_size=1,
        max_size=14,
    ),
    st.randoms(use_true_random=False),
)
def test_order_and_replay_with_cameras(
    city: City, items: list[tuple[int, str, int]], rnd: object
) -> None:
    """Tickets and camera 'continuing' evidence at two places: any arrival order gives the same
    incidents, and a full replay changes nothing."""
    observations = [
        ticket(f"t{i}", m, at=EVENTS[p][1])
        if kind == "ticket"
        else camera(f"c{i}", "continuing", m, cam=EVENTS[p][0])
        for i, (p, kind, m) in enumerate(items)
    ]

    def outcome(order: list[Observation]) -> set[tuple[frozenset[str], str]]:
        f = fuser(city)
        for o in order:
            f.apply(o)
        before = dict(f.incidents)
        for o in order:
            assert f.apply(o).changed is False
        assert f.incidents == before
        return {(frozenset(i.evidence_ids), i.severity) for i in f.incidents.values()}

    shuffled = list(observations)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert outcome(observations) == outcome(shuffled)


def test_reloaded_state_forgets_events_of_deleted_cameras(city: City) -> None:
    f = fuser(city)
    f.apply(camera("c1", "opened"))
    (inc,) = f.incidents.values()
    stale = replace(
        inc, camera_events=(*inc.camera_events, "flooding@cam-deleted/roadway"), cell=""
    )
    g = fuser(city)
    g.load([stale])
    (back,) = g.incidents.values()
    assert back.camera_events == ("flooding@cam-01/roadway",) and back.cell == inc.cell
    assert g.apply(camera("c2", "cleared", 5)).note == "resolved"


@pytest.mark.parametrize("bearing", range(0, 360, 15))
@pytest.mark.parametrize(("metres", "joins"), [(340.0, True), (360.0, False)])
def test_radius_holds_in_every_direction_across_index_squares(
    city: City, bearing: int, metres: float, joins: bool
) -> None:
    """The candidate index (radius-sized squares) never hides an incident within the radius."""
    import math

    from citybrain.core.geo import offset_metres

    base = GeoPoint(lon=120.13337, lat=30.27771)
    lon, lat = offset_metres(
        base.lon,
        base.lat,
        metres * math.sin(math.radians(bearing)),
        metres * math.cos(math.radians(bearing)),
    )
    f = fuser(city, fusion_radius_m=350)
    f.apply(ticket("a", at=base))
    assert (f.apply(ticket("b", 1, at=GeoPoint(lon=lon, lat=lat))).created is False) == joins


def test_an_adopted_incident_ignores_replays_of_its_evidence(city: City) -> None:
    f = fuser(city)
    f.apply(ticket("a"))
    (inc,) = f.incidents.values()
    g = fuser(city)
    g.adopt(inc)  # e.g. loaded from the store for a dispatcher's feedback
    assert g.apply(ticket("a")).note == "duplicate"
    assert g.apply(ticket("b", 2)).incident.evidence_ids == ("a", "b")  # type: ignore[union-attr]


def _with_view(city: City) -> City:
    """cam-01 looking 600 m north up its road: a 40 m wide strip of ground."""
    lon, lat = CAM01.lon, CAM01.lat
    strip = (
        (lon - 0.0002, lat),
        (lon + 0.0002, lat),
        (lon + 0.0002, lat + 0.0054),
        (lon - 0.0002, lat + 0.0054),
    )
    data = city.model_dump()
    for cam in data["cameras"]:
        if cam["id"] == "cam-01":
            cam["view"] = strip
    return City.model_validate(data)


@pytest.mark.parametrize(
    ("north_m", "joins"),
    [(30, True), (500, True), (-500, False)],  # below it, far up its view, far behind it
)
def test_a_cameras_view_reaches_reports_of_what_it_sees(
    city: City, north_m: float, joins: bool
) -> None:
    """Evidence is matched against the camera's view polygon, not only its pole: a citizen
    500 m up the road the camera watches reports the same flood; one 500 m behind it does not."""
    f = fuser(_with_view(city))
    f.apply(camera("c1", "opened"))
    at = GeoPoint(lon=CAM01.lon, lat=CAM01.lat + north_m / 111_320)
    result = f.apply(ticket("t1", 5, at=at))
    assert (result.created is False) == joins
    assert len(f.incidents) == (1 if joins else 2)
    # and the other way round: the ticket first, then the camera that sees it
    g = fuser(_with_view(city))
    g.apply(ticket("t1", 0, at=at))
    assert (g.apply(camera("c1", "opened", 5)).created is False) == joins


def test_without_a_view_only_the_pole_counts(city: City) -> None:
    f = fuser(city)
    f.apply(camera("c1", "opened"))
    far_up = GeoPoint(lon=CAM01.lon, lat=CAM01.lat + 500 / 111_320)
    assert f.apply(ticket("t1", 5, at=far_up)).created


def test_a_camera_view_must_be_a_polygon(city: City) -> None:
    data = city.model_dump()
    data["cameras"][0]["view"] = [[120.1, 30.2], [120.2, 30.3]]  # a line is no ground
    with pytest.raises(ValueError, match="a view needs at least 3 points"):
        City.model_validate(data)


def test_replay_guard_is_pruned_with_the_incidents_it_belongs_to(city: City) -> None:
    """A day of incidents that open, resolve by timeout and can no longer reopen: the set of
    observations remembered as applied stays at what can still change, instead of growing
    with every observation. A replay of pruned evidence is late (dead-lettered), never fused
    a second time."""
    f = fuser(city, window_s=600, idle_resolve_s=1800, reopen_s=1800, max_lateness_s=1800)
    sizes = []
    for hour in range(24):
        for i in range(5):  # five tickets an hour about the same place
            f.apply(ticket(f"h{hour}-{i}", hour * 60 + i))
        f.expire()
        sizes.append(f.seen_count)
    assert max(sizes[4:]) <= 10 and sizes[-1] == sizes[-5]  # flat, not 5 more every hour
    old = ticket("h0-0", 0)
    assert f.is_late(old)  # so the stage dead-letters it: no second incident
    assert f.apply(ticket("h23-0", 23 * 60)).note == "duplicate"  # recent ones still guarded


def test_unmatched_clears_leave_the_replay_guard(city: City) -> None:
    f = fuser(city, max_lateness_s=600)
    for i in range(50):  # clears whose opening was never seen
        assert f.apply(camera(f"x{i}", "cleared", i)).note == "clear_unmatched"
    f.apply(ticket("later", 200))
    f.expire()
    assert f.seen_count == 1 + sum(1 for i in range(50) if i >= 200 - 10)
