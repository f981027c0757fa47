"""The load run's scaling: the factors asked for are the rates the simulator then produces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from citybrain.chaos.load_rates import FRAME_X, TICKET_X, rates, scaled_simulator
from citybrain.config import Settings
from citybrain.core.city import City

START = datetime(2026, 1, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(("tickets_x", "frames_x"), [(TICKET_X, FRAME_X), (10.0, 10.0)])
def test_the_rates_are_the_factors_times_the_demos(
    settings: Settings, city: City, tickets_x: float, frames_x: float
) -> None:
    demo = rates(settings.simulator, city, START)
    sim = scaled_simulator(settings.simulator, city, 600.0, START, tickets_x, frames_x)
    load = rates(sim, city, START)
    assert sim.frame_interval_s == settings.simulator.frame_interval_s / frames_x
    assert load["frames_per_s"] / demo["frames_per_s"] == pytest.approx(frames_x, rel=0.05)
    assert load["tickets_per_s"] / demo["tickets_per_s"] == pytest.approx(tickets_x, rel=0.1)


def test_the_soak_reaches_its_ticket_rate_with_the_city_full_of_events(
    settings: Settings, city: City
) -> None:
    """30 minutes at 10x: the city has room for about 113 events at once, 6.7x the demo's
    tickets; unrelated reports, which need no place, make up the rest of the rate."""
    demo = rates(settings.simulator, city, START)
    sim = scaled_simulator(settings.simulator, city, 1800.0, START, 10.0, 10.0)
    load = rates(sim, city, START)
    assert load["tickets_per_s"] / demo["tickets_per_s"] == pytest.approx(10.0, rel=0.05)
    assert sim.unrelated_tickets > sim.events * 0.5  # beyond the demo's 1:2 proportion
