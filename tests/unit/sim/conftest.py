"""Fixtures for the simulator tests: a short run of the sample city, generated once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from citybrain.config import Settings
from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.sim import Simulation, simulate
from citybrain.sim.scenario import SimEvent

START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 local solar time in the sample city


@pytest.fixture(scope="session")
def sim_settings(settings: Settings) -> SimulatorSettings:
    """Sample settings, shortened so a whole run renders in well under a second."""
    return settings.simulator.model_copy(
        update={"duration_s": 1200.0, "frame_interval_s": 300.0, "events": 14}
    )


@pytest.fixture(scope="session")
def sim(city: City, sim_settings: SimulatorSettings) -> Simulation:
    return simulate(city, sim_settings, START)


def keyword_in(text: str, keyword: str) -> bool:
    """The classifier's rule: whole words for English (any case), substring for Chinese."""
    if keyword.isascii():
        return re.search(rf"(?i)\b{re.escape(keyword)}\b", text) is not None
    return keyword in text


def _mentions(text: str, names: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any((n.lower() in lowered) if n.isascii() else (n in text) for n in names)


def street_names(city: City) -> dict[str, tuple[str, ...]]:
    return {s.name: (s.name, *s.aliases, s.name_zh) for s in city.streets}


def landmark_names(city: City) -> dict[str, tuple[str, ...]]:
    return {lm.name: (lm.name, *lm.aliases, lm.name_zh) for lm in city.landmarks}


def names_exact_place(city: City, ev: SimEvent, text: str) -> bool:
    """Both streets of the intersection, or the landmark, are named (any spelling)."""
    if ev.landmark is not None:
        return _mentions(text, landmark_names(city)[ev.landmark])
    streets = street_names(city)
    return len(ev.streets) == 2 and all(_mentions(text, streets[s]) for s in ev.streets)


def names_any_place(city: City, text: str) -> bool:
    """Any street, landmark or district name at all."""
    names: list[str] = []
    for group in (*street_names(city).values(), *landmark_names(city).values()):
        names += group
    for d in city.districts:
        names += [d.name, d.name_zh, d.name_zh.rstrip("区")]
    return _mentions(text, tuple(names))
