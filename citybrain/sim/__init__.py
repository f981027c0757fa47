"""A deterministic synthetic city: events, camera frames and citizen tickets from one seed."""

from citybrain.sim.render import Box, encode_jpeg, is_night, render_annotated, render_frame
from citybrain.sim.scenario import Scenario, SimEvent, build_scenario
from citybrain.sim.stream import (
    FrameRecord,
    SimRecord,
    Simulation,
    TicketRecord,
    ground_truth,
    iter_records,
    simulate,
    write_ground_truth,
)
from citybrain.sim.tickets import SimTicket, generate_tickets
from citybrain.sim.truth import responsible_department

__all__ = [
    "Box",
    "FrameRecord",
    "Scenario",
    "SimEvent",
    "SimRecord",
    "SimTicket",
    "Simulation",
    "TicketRecord",
    "build_scenario",
    "encode_jpeg",
    "generate_tickets",
    "ground_truth",
    "is_night",
    "iter_records",
    "render_annotated",
    "render_frame",
    "responsible_department",
    "simulate",
    "write_ground_truth",
]
