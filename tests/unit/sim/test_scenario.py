from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City, Responsibility
from citybrain.core.geo import metres_between
from citybrain.sim import Simulation, build_scenario, responsible_department
from citybrain.sim.places import named_places
from citybrain.sim.scenario import MIN_SAME_CATEGORY_M, is_visual

from .conftest import START


def test_event_count_ids_and_taxonomy_coverage(
    city: City, sim: Simulation, sim_settings: SimulatorSettings
) -> None:
    events = sim.scenario.events
    assert len(events) == sim_settings.events
    assert [e.id for e in events] == [f"ev-{i:03d}" for i in range(1, len(events) + 1)]
    assert {e.category for e in events} == {c.id for c in city.categories}  # 14 >= 10 categories
    assert [e.starts_at for e in events] == sorted(e.starts_at for e in events)


def test_times_inside_the_run(sim: Simulation, sim_settings: SimulatorSettings) -> None:
    d = sim_settings.duration_s
    for e in sim.scenario.events:
        begin = (e.starts_at - START).total_seconds()
        length = (e.ends_at - e.starts_at).total_seconds()
        assert 0 <= begin <= 0.6 * d
        assert e.ends_at <= START + timedelta(seconds=d)
        assert length <= 0.5 * d + 0.001
        assert length >= 0.2 * d - 0.001 or e.ends_at == START + timedelta(seconds=d)
        assert e.starts_at.tzinfo is not None


def test_places_districts_and_departments(city: City, sim: Simulation) -> None:
    cams = city.camera_by_id
    places = {(p.lon, p.lat): p for p in named_places(city)}
    for e in sim.scenario.events:
        district = city.district_at(e.lon, e.lat)
        assert district is not None and district.id == e.district
        assert e.department == responsible_department(city, e.category, e.district)
        assert (e.lon, e.lat) in places
        assert places[(e.lon, e.lat)].name_en == e.place_en
        assert places[(e.lon, e.lat)].name_zh == e.place_zh
        if is_visual(city.category_by_id[e.category]):
            assert e.camera_id is not None
            cam = cams[e.camera_id]
            assert metres_between(cam.lon, cam.lat, e.lon, e.lat) < 1.0
            assert any(e.category in z.categories for z in cam.zones)
            assert e.place_kind == "intersection"
        else:
            assert e.camera_id is None


def test_place_wording(sim: Simulation) -> None:
    for e in sim.scenario.events:
        if e.place_kind == "intersection":
            a, b = e.streets
            assert e.place_en == f"{a} and {b}"
            assert e.place_zh.endswith("交叉口") and "与" in e.place_zh
        else:
            assert e.place_en == e.landmark


def _assert_spread(events: tuple) -> None:  # type: ignore[type-arg]
    for a, b in itertools.combinations(events, 2):
        if a.category != b.category:
            continue
        assert (a.lon, a.lat) != (b.lon, b.lat), (a.id, b.id)
        if a.overlaps(b):
            assert metres_between(a.lon, a.lat, b.lon, b.lat) >= MIN_SAME_CATEGORY_M, (a.id, b.id)


def test_same_category_events_are_spread(sim: Simulation) -> None:
    _assert_spread(sim.scenario.events)


@pytest.mark.parametrize("seed", range(12))
def test_spread_holds_for_crowded_runs(
    city: City, sim_settings: SimulatorSettings, seed: int
) -> None:
    crowded = sim_settings.model_copy(update={"seed": seed, "events": 60})
    _assert_spread(build_scenario(city, crowded, START).events)


def test_impossible_crowding_is_an_error(city: City, sim_settings: SimulatorSettings) -> None:
    with pytest.raises(ValueError, match="cannot place"):
        build_scenario(city, sim_settings.model_copy(update={"events": 1000}), START)


def test_most_events_reported(city: City, sim_settings: SimulatorSettings) -> None:
    events = build_scenario(city, sim_settings.model_copy(update={"events": 100}), START).events
    share = sum(e.reported for e in events) / len(events)
    assert 0.65 <= share <= 0.92


def test_naive_start_is_rejected(city: City, sim_settings: SimulatorSettings) -> None:
    with pytest.raises(ValueError, match="aware"):
        build_scenario(city, sim_settings, START.replace(tzinfo=None))


def test_responsibility_most_specific_line_wins(city: City) -> None:
    assert responsible_department(city, "illegal_parking", "xicheng") == "traffic_police_north"
    assert responsible_department(city, "illegal_parking", "gaoxin") == "traffic_police_south"
    assert responsible_department(city, "overflowing_bin", "nanhu") == "sanitation_west"
    assert responsible_department(city, "overflowing_bin", "gaoxin") == "sanitation_east"
    assert responsible_department(city, "pothole", "gaoxin") == "city_roads"
    extra = (
        Responsibility(category="*", district="gaoxin", department="urban_management"),
        Responsibility(category="pothole", district="gaoxin", department="environment"),
    )
    lines = tuple(r for r in city.responsibilities if r.category != "noise")
    custom = city.model_copy(update={"responsibilities": (*extra, *lines)})
    assert responsible_department(custom, "pothole", "gaoxin") == "environment"  # (cat, district)
    assert responsible_department(custom, "pothole", "nanhu") == "city_roads"  # (cat, *)
    assert responsible_department(custom, "noise", "gaoxin") == "urban_management"  # (*, district)
    assert responsible_department(custom, "noise", "nanhu") == city.triage_department
