"""The load run's simulator: the demo city's own rates and the same city scaled to a multiple
of them (20x tickets and 5x frames unless told otherwise; the soak runs 10x both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.sim.stream import frame_offsets_ms, simulate

TICKET_X = 20.0  # tickets per second, times the demo's
FRAME_X = 5.0  # frames per second, times the demo's


def scaled_simulator(
    base: SimulatorSettings,
    city: City,
    duration_s: float,
    start: datetime,
    tickets_x: float = TICKET_X,
    frames_x: float = FRAME_X,
) -> SimulatorSettings:
    """The demo city at load rates over `duration_s`: frames every interval / `frames_x`; events
    (with unrelated reports in the demo's proportion) chosen so that the tickets come at
    `tickets_x` times the demo's rate. Tickets per event are drawn at random, so scaling the
    event count alone misses the ticket rate; the count whose tickets come nearest wins (up to
    as many events as the city has places for at once). Past that, the rest of the rate is
    made of unrelated reports, which need no place (the soak's 10x over 30 minutes)."""
    demo = len(simulate(city, base, start).tickets) / base.duration_s
    target = tickets_x * demo * duration_s
    per_event = base.unrelated_tickets / max(base.events, 1)
    guess = max(1, round(base.events * tickets_x * duration_s / base.duration_s))
    best: tuple[float, int, SimulatorSettings] | None = None  # miss, tickets, settings
    for events in range(max(1, guess // 2), 2 * guess + 2):
        sim = base.model_copy(
            update={
                "duration_s": duration_s,
                "frame_interval_s": base.frame_interval_s / frames_x,
                "events": events,
                "unrelated_tickets": round(events * per_event),
                "broken_records": 0,
                "rate": 0.0,
            }
        )
        try:
            tickets = len(simulate(city, sim, start).tickets)
        except ValueError:  # the city has no free place left for more events at once
            break
        miss = abs(tickets - target)
        if best is None or miss < best[0]:
            best = (miss, tickets, sim)
    assert best is not None
    _, tickets, sim = best
    short = round(target - tickets)
    if short > 0:  # the city is full of events: more reports about other matters
        sim = sim.model_copy(update={"unrelated_tickets": sim.unrelated_tickets + short})
    return sim


def rates(sim: SimulatorSettings, city: City, start: datetime) -> dict[str, Any]:
    """Records per second of a simulator setting (per simulated second = per wall second)."""
    tickets = len(simulate(city, sim, start).tickets)
    frames = len(city.cameras) * len(frame_offsets_ms(sim))
    return {
        "duration_s": sim.duration_s,
        "events": sim.events,
        "unrelated_tickets": sim.unrelated_tickets,
        "frame_interval_s": sim.frame_interval_s,
        "tickets": tickets,
        "frames": frames,
        "tickets_per_s": round(tickets / sim.duration_s, 4),
        "frames_per_s": round(frames / sim.duration_s, 4),
    }
