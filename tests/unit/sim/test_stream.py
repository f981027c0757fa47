from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.sim import FrameRecord, TicketRecord, ground_truth, iter_records, write_ground_truth
from citybrain.sim.stream import render_camera_frame, simulate

from .conftest import START


def _run(city: City, settings: SimulatorSettings) -> list[FrameRecord | TicketRecord]:
    return list(iter_records(city, settings, START))


def test_same_seed_same_stream_and_truth(city: City, sim_settings: SimulatorSettings) -> None:
    a, b = _run(city, sim_settings), _run(city, sim_settings)
    assert a == b  # frames compare meta and JPEG bytes, tickets every field
    jpegs_a = [r.jpeg for r in a if isinstance(r, FrameRecord)][:5]
    jpegs_b = [r.jpeg for r in b if isinstance(r, FrameRecord)][:5]
    assert len(jpegs_a) == 5 and jpegs_a == jpegs_b
    ta, tb = ground_truth(city, sim_settings, START), ground_truth(city, sim_settings, START)
    assert json.dumps(ta, ensure_ascii=False) == json.dumps(tb, ensure_ascii=False)


def test_other_seed_other_stream(city: City, sim_settings: SimulatorSettings) -> None:
    other = sim_settings.model_copy(update={"seed": sim_settings.seed + 1})
    a, b = _run(city, sim_settings), _run(city, other)
    ja = [r.jpeg for r in a if isinstance(r, FrameRecord)]
    jb = [r.jpeg for r in b if isinstance(r, FrameRecord)]
    assert ja[0] != jb[0]
    assert ground_truth(city, sim_settings, START) != ground_truth(city, other, START)


def test_records_in_time_order_with_per_camera_sequences(
    city: City, sim_settings: SimulatorSettings
) -> None:
    records = _run(city, sim_settings)
    times = [r.ts_ms for r in records]
    assert times == sorted(times)
    seqs: dict[str, list[int]] = defaultdict(list)
    stamps: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if isinstance(r, FrameRecord):
            seqs[r.meta.camera_id].append(r.meta.seq)
            stamps[r.meta.camera_id].append(r.meta.ts_ms)
    n = int(sim_settings.duration_s // sim_settings.frame_interval_s)
    start_ms = round(START.timestamp() * 1000)
    step = round(sim_settings.frame_interval_s * 1000)
    assert set(seqs) == {c.id for c in city.cameras}
    for cam in seqs:
        assert seqs[cam] == list(range(n))
        assert stamps[cam] == [start_ms + i * step for i in range(n)]


def test_frames_decode_to_configured_size(city: City, sim_settings: SimulatorSettings) -> None:
    small = sim_settings.model_copy(update={"width": 320, "height": 200, "duration_s": 300.0})
    frames = [r for r in _run(city, small) if isinstance(r, FrameRecord)]
    assert len(frames) == len(city.cameras)
    for f in frames:
        img = cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (200, 320, 3)
        assert (f.meta.width, f.meta.height) == (320, 200)


def test_truth_counts_match_the_stream(city: City, sim_settings: SimulatorSettings) -> None:
    records = _run(city, sim_settings)
    truth = ground_truth(city, sim_settings, START)
    frames = [r for r in records if isinstance(r, FrameRecord)]
    tickets = [r for r in records if isinstance(r, TicketRecord)]
    assert truth["counts"]["frames"] == len(frames)
    assert truth["counts"]["tickets"] == len(tickets)
    ids = [t.ticket.ticket_id for t in tickets]
    event_ids = [i for e in truth["events"] for i in e["ticket_ids"]]
    assert sorted(event_ids + truth["unrelated_ticket_ids"]) == sorted(ids)
    assert len(truth["unrelated_ticket_ids"]) == sim_settings.unrelated_tickets
    for e in truth["events"]:
        assert set(e) >= {
            "id",
            "category",
            "district",
            "department",
            "lon",
            "lat",
            "starts_at",
            "ends_at",
            "camera_id",
            "reported",
            "ticket_ids",
        }
        assert bool(e["ticket_ids"]) == e["reported"]


def test_truth_is_json_and_written_to_disk(
    city: City, sim_settings: SimulatorSettings, tmp_path: Path
) -> None:
    truth = ground_truth(city, sim_settings, START)
    path = write_ground_truth(tmp_path / "nested" / "truth.json", truth)
    assert json.loads(path.read_text(encoding="utf-8")) == truth
    assert truth["seed"] == sim_settings.seed
    assert truth["start"] == START.isoformat()
    assert not list(path.parent.glob("*.tmp"))


def test_visible_events_show_on_their_camera(city: City, sim_settings: SimulatorSettings) -> None:
    """A camera frame taken while one of its events is active differs from the event-free scene."""
    sim = simulate(city, sim_settings, START)
    checked = 0
    for e in sim.scenario.events:
        if e.camera_id is None:
            continue
        cam_index = [c.id for c in city.cameras].index(e.camera_id)
        empty = dataclasses.replace(sim.scenario, events=())
        for seq in range(int(sim_settings.duration_s // sim_settings.frame_interval_s)):
            with_ev = render_camera_frame(city, sim_settings, sim.scenario, cam_index, seq)
            t_ms = with_ev.meta.ts_ms
            if not (e.starts_at.timestamp() * 1000 <= t_ms < e.ends_at.timestamp() * 1000):
                continue
            without = render_camera_frame(city, sim_settings, empty, cam_index, seq)
            assert with_ev.jpeg != without.jpeg
            checked += 1
    assert checked > 0
