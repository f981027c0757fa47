"""Camera events in the vision stage with the real ByteTrack: a car parked at the kerb becomes
an illegal-parking event with its track and dwell; passing traffic does not; observations carry
what the rule decided and are keyed by geo cell."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from citybrain.config import Settings
from citybrain.config.rules import CameraRuleSettings, Rule, RulePatch
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta
from citybrain.vision.detections import Detections
from citybrain.vision.events import CameraEvents

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PARKED = [0.88, 0.62, 0.98, 0.95]  # footprint in cam-01's kerb zone


def frame(seq: int) -> FrameMeta:
    ts = T0 + timedelta(seconds=30 * seq)
    return FrameMeta(
        camera_id="cam-01", ts_ms=int(ts.timestamp() * 1000), seq=seq, width=640, height=360
    )


def dets(*boxes: list[float]) -> Detections:
    return Detections.from_named(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(len(boxes), 0.9, np.float32),
        ("vehicle",) * len(boxes),
    )


def events(settings: Settings, city: City) -> CameraEvents:
    rules = CameraRuleSettings(
        default=Rule(open_k=2, window_n=3, clear_m=2),
        categories={"illegal_parking": RulePatch(dwell_s=60)},
        continuing_every_s=0,  # every frame's decision, to follow the rule frame by frame
    )
    return CameraEvents(settings.model_copy(update={"rules": rules}), city, Counter())


def test_parked_car_opens_continues_and_clears(settings: Settings, city: City) -> None:
    ev = events(settings, city)
    cam = city.camera_by_id["cam-01"]
    passing = [[0.62 + 0.03 * i, 0.45, 0.7 + 0.03 * i, 0.55] for i in range(8)]  # moving, road
    got = []
    for seq in range(8):
        got.append(ev.observe(cam, frame(seq), dets(PARKED, passing[seq]), f"f/0/{seq}"))
    for seq in range(8, 11):  # the car leaves
        got.append(ev.observe(cam, frame(seq), dets(passing[seq - 8]), f"f/0/{seq}"))
    states = [[o.rule_state for _, o in frame_out] for frame_out in got]
    # dwell reaches 60 s on frame 2 (tracked from frame 0), 2 of 3 counting frames on frame 3.
    assert states[:5] == [[], [], [], ["opened"], ["continuing"]]
    assert states[8:] == [[], ["cleared"], []]  # 2 quiet frames clear it
    key, opened = got[3][0]
    assert key.startswith("cell:")
    assert opened.category == "illegal_parking" and opened.rule_id == "illegal_parking@cam-01/kerb"
    assert opened.zone == "kerb" and opened.count == 1 and len(opened.track_ids) == 1
    assert opened.dwell_s is not None and opened.dwell_s >= 60
    assert opened.detections[0].track_id == opened.track_ids[0]
    cleared = got[9][0][1]
    assert cleared.event_id == opened.event_id and cleared.detections == ()
    assert ev.stats["camera_events.opened"] == 1 and ev.stats["camera_events.cleared"] == 1


def test_a_late_frame_is_counted_and_kept_from_the_tracker(settings: Settings, city: City) -> None:
    """A frame older than one already seen from its camera changes neither the rules nor the
    tracks: dwell stays measured in the camera's own forward time."""
    ev = events(settings, city)
    cam = city.camera_by_id["cam-01"]
    for seq in range(3):
        ev.observe(cam, frame(seq), dets(PARKED), f"f/0/{seq}")
    tracker = ev.trackers._trackers["cam-01"]
    frames_seen = tracker.frame_id
    assert ev.observe(cam, frame(1), dets(PARKED, [0.1, 0.1, 0.2, 0.2]), "f/0/late") == []
    assert ev.stats["stale_frames"] == 1
    assert tracker.frame_id == frames_seen  # ByteTrack never saw the late frame
    opened = ev.observe(cam, frame(3), dets(PARKED), "f/0/3")
    assert [o.rule_state for _, o in opened] == ["opened"]
    assert opened[0][1].track_ids == (1,)  # the parked car kept its track; no new id was born


def test_observations_carry_the_frames_people_and_vehicles_for_hiding(
    settings: Settings, city: City
) -> None:
    ev = events(settings, city)
    cam = city.camera_by_id["cam-01"]
    person = [0.1, 0.2, 0.15, 0.4]
    out = []
    for seq in range(5):
        d = dets(PARKED, person)
        d = Detections.from_named(d.xyxyn, d.confidence, ("vehicle", "person"))
        out += [o for _, o in ev.observe(cam, frame(seq), d, f"f/0/{seq}")]
    opened = next(o for o in out if o.rule_state == "opened")
    assert sorted(b.cls for b in opened.privacy_boxes) == ["person", "vehicle"]
    np.testing.assert_allclose(
        next(b for b in opened.privacy_boxes if b.cls == "person").box, person, atol=1e-5
    )


def test_a_cleared_events_frame_carries_its_people_for_hiding_too(
    settings: Settings, city: City
) -> None:
    """The frame that clears an event is evidence shown like any other: the person still in
    it is hidden (before, a cleared observation had no privacy boxes)."""
    ev = events(settings, city)
    cam = city.camera_by_id["cam-01"]
    person = [0.1, 0.2, 0.15, 0.4]
    out = []
    for seq in range(10):
        boxes = (PARKED, person) if seq < 6 else (person,)  # the car leaves, the person stays
        names = ("vehicle", "person") if seq < 6 else ("person",)
        d = Detections.from_named(
            np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32), names
        )
        out += [o for _, o in ev.observe(cam, frame(seq), d, f"f/0/{seq}")]
    cleared = next(o for o in out if o.rule_state == "cleared")
    assert [b.cls for b in cleared.privacy_boxes] == ["person"]
    np.testing.assert_allclose(cleared.privacy_boxes[0].box, person, atol=1e-5)


def test_a_camera_whose_clock_is_set_back_starts_over(settings: Settings, city: City) -> None:
    """The camera's clock goes back an hour: its rules and tracks start over from that frame
    (a new event, counted as a clock reset) instead of skipping every frame as stale until
    the clock passes the old time again."""
    ev = events(settings, city)
    cam = city.camera_by_id["cam-01"]
    first = [ev.observe(cam, frame(seq), dets(PARKED), f"f/0/{seq}") for seq in range(5)]
    opened = first[3][0][1]
    hour = timedelta(hours=1).total_seconds() * 1000
    back = []
    for seq in range(5, 10):  # the camera goes on counting frames; its clock is an hour back
        meta = frame(seq)
        meta = meta.model_copy(update={"ts_ms": int(meta.ts_ms - hour - 5 * 30_000)})
        back.append(ev.observe(cam, meta, dets(PARKED), f"f/0/{seq}"))
    assert ev.stats["camera_clock_resets"] == 1 and ev.stats["stale_frames"] == 0
    states = [[o.rule_state for _, o in out] for out in back]
    assert states == [[], [], [], ["opened"], ["continuing"]]  # the same rule, from scratch
    reopened = back[3][0][1]
    assert reopened.event_id != opened.event_id
    assert reopened.observed_at == T0 + timedelta(seconds=30 * 3) - timedelta(hours=1)
