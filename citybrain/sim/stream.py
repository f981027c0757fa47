"""The simulated run as one time-ordered stream of records, and its ground truth.

Everything here is a pure function of (city, settings, start): no Kafka, no clock. The
producer paces and publishes the records; evaluation compares the pipeline's output with
the truth written next to them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta, Ticket
from citybrain.sim.render import encode_jpeg, render_frame
from citybrain.sim.scenario import Scenario, build_scenario
from citybrain.sim.tickets import SimTicket, generate_tickets

_FRAME_STREAM = 3  # sub-stream of the seed for per-frame sensor noise
JPEG_QUALITY = 80


@dataclass(frozen=True)
class FrameRecord:
    meta: FrameMeta
    jpeg: bytes

    @property
    def ts_ms(self) -> int:
        return self.meta.ts_ms


@dataclass(frozen=True)
class TicketRecord:
    ticket: Ticket

    @property
    def ts_ms(self) -> int:
        return round(self.ticket.received_at.timestamp() * 1000)


SimRecord = FrameRecord | TicketRecord


@dataclass(frozen=True)
class Simulation:
    """The events and tickets of one run (frames are rendered lazily from these)."""

    scenario: Scenario
    tickets: tuple[SimTicket, ...]


def simulate(city: City, settings: SimulatorSettings, start: datetime) -> Simulation:
    scenario = build_scenario(city, settings, start)
    return Simulation(scenario, generate_tickets(city, scenario, settings))


def frame_offsets_ms(settings: SimulatorSettings) -> list[int]:
    """Offsets from start of every frame time: 0, interval, ... while inside the run."""
    step = max(1, round(settings.frame_interval_s * 1000))
    span = round(settings.duration_s * 1000)
    return list(range(0, span, step))


def render_camera_frame(
    city: City, settings: SimulatorSettings, scenario: Scenario, camera_index: int, seq: int
) -> FrameRecord:
    """Frame `seq` of one camera: the same inputs always give the same JPEG bytes."""
    camera = city.cameras[camera_index]
    offset = frame_offsets_ms(settings)[seq]
    t = scenario.start + timedelta(milliseconds=offset)
    visible = [e for e in scenario.events if e.camera_id == camera.id and e.active_at(t)]
    rng = np.random.default_rng([settings.seed, _FRAME_STREAM, camera_index, seq])
    img = render_frame(camera, visible, t, settings.width, settings.height, rng)
    meta = FrameMeta(
        camera_id=camera.id,
        ts_ms=round(t.timestamp() * 1000),
        seq=seq,
        width=settings.width,
        height=settings.height,
    )
    return FrameRecord(meta=meta, jpeg=encode_jpeg(img, JPEG_QUALITY))


def iter_records(city: City, settings: SimulatorSettings, start: datetime) -> Iterator[SimRecord]:
    """Frames of every camera every frame_interval_s, and tickets, in simulated-time order
    (at equal times frames come first, cameras in config order)."""
    sim = simulate(city, settings, start)
    tickets = [TicketRecord(t.ticket) for t in sim.tickets]
    i = 0
    for seq in range(len(frame_offsets_ms(settings))):
        for cam_index in range(len(city.cameras)):
            frame = render_camera_frame(city, settings, sim.scenario, cam_index, seq)
            while i < len(tickets) and tickets[i].ts_ms < frame.ts_ms:
                yield tickets[i]
                i += 1
            yield frame
    yield from tickets[i:]


def ground_truth(city: City, settings: SimulatorSettings, start: datetime) -> dict[str, Any]:
    """What really happened, as JSON-ready data: events, which tickets are about which, counts."""
    sim = simulate(city, settings, start)
    by_event: dict[str, list[str]] = {}
    for t in sim.tickets:
        if t.event_id is not None:
            by_event.setdefault(t.event_id, []).append(t.ticket.ticket_id)
    frames_per_camera = len(frame_offsets_ms(settings))
    events = [
        {
            "id": e.id,
            "category": e.category,
            "district": e.district,
            "department": e.department,
            "lon": e.lon,
            "lat": e.lat,
            "starts_at": e.starts_at.isoformat(),
            "ends_at": e.ends_at.isoformat(),
            "camera_id": e.camera_id,
            "place_en": e.place_en,
            "place_zh": e.place_zh,
            "reported": e.reported,
            "ticket_ids": by_event.get(e.id, []),
        }
        for e in sim.scenario.events
    ]
    tickets = [
        {
            "ticket_id": t.ticket.ticket_id,
            "event_id": t.event_id,
            "language": t.ticket.language,
            "channel": t.ticket.channel,
            "keyword": t.keyword,
            "vague": t.vague,
            "names_place": t.names_place,
            "has_location": t.ticket.location is not None,
        }
        for t in sim.tickets
    ]
    return {
        "seed": settings.seed,
        "start": sim.scenario.start.isoformat(),
        "end": sim.scenario.end.isoformat(),
        "duration_s": settings.duration_s,
        "frame_interval_s": settings.frame_interval_s,
        "events": events,
        "unrelated_ticket_ids": [t.ticket.ticket_id for t in sim.tickets if t.event_id is None],
        "tickets": tickets,
        "counts": {
            "events": len(events),
            "reported_events": sum(e.reported for e in sim.scenario.events),
            "cameras": len(city.cameras),
            "frames_per_camera": frames_per_camera,
            "frames": frames_per_camera * len(city.cameras),
            "tickets": len(sim.tickets),
        },
    }


def write_ground_truth(path: Path | str, truth: dict[str, Any]) -> Path:
    """Write the truth as UTF-8 JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
