"""The ticket path (redact → classify → geocode → fuse → route), run in-process over many
simulated cities and scored against the simulator's ground truth. No broker: the same stage
code the pipeline runs, fed directly, so many seeds fit in a few seconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.evaluation import IncidentFacts, TruthReport, score_against_truth
from citybrain.core.fusion import Fuser
from citybrain.core.routing import route
from citybrain.sim import ground_truth, simulate
from citybrain.streams.topics import Topics
from pipelines.tickets import TicketStage

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def score_ticket_path(settings: Settings, city: City, seed: int, events: int) -> TruthReport:
    sim_settings = settings.simulator.model_copy(update={"seed": seed, "events": events})
    sim = simulate(city, sim_settings, START)
    stage = TicketStage(settings, city, Topics("unit"))
    fuser = Fuser(city, settings.incidents)
    incident_of: dict[str, str] = {}
    for st in sorted(sim.tickets, key=lambda t: t.ticket.received_at):
        result = fuser.apply(stage.observe(st.ticket.model_dump_json().encode()))
        assert result.incident is not None
        incident_of[st.ticket.ticket_id] = result.incident.id
    facts = {
        i.id: IncidentFacts(i.category, i.district, route(city, i.category, i.district).department)
        for i in fuser.incidents.values()
    }
    return score_against_truth(ground_truth(city, sim_settings, START), incident_of, facts)


@pytest.mark.parametrize("seed", range(20))
def test_default_city(settings: Settings, city: City, seed: int) -> None:
    report = score_ticket_path(settings, city, seed, settings.simulator.events)
    assert report.problems == []
    assert report.exact == report.reported_events > 0
    assert report.unrelated_reports == settings.simulator.unrelated_tickets


@pytest.mark.parametrize("seed", range(10))
def test_crowded_city(settings: Settings, city: City, seed: int) -> None:
    report = score_ticket_path(settings, city, seed, 30)
    assert report.problems == []
    assert report.exact == report.reported_events >= 20
