"""Snapshot drawing and privacy blur on a rendered frame; health figures from worker counters."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np

from citybrain.core.camera_health import HealthState
from citybrain.core.city import City
from citybrain.web import health
from citybrain.web.snapshot import render


def _frame() -> bytes:
    """High-contrast noise everywhere, so blurring shows as lost variance."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buf)


def _std(img: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    return float(img[y1:y2, x1:x2].std())


DETS = [
    {"cls": "pothole", "confidence": 0.9, "box": [0.5, 0.5, 0.75, 0.9], "zone": "roadway"},
    {"cls": "person", "confidence": 0.8, "box": [0.05, 0.1, 0.2, 0.5], "zone": None},
]


def test_background_mode_blurs_everything_but_the_evidence(city: City) -> None:
    out = render(_frame(), DETS, city.camera_by_id["cam-01"], "background", ("person",))
    assert out is not None
    img = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (180, 320, 3)
    inside = _std(img, (170, 100, 230, 155))  # within the pothole box, away from its outline
    background = _std(img, (250, 10, 310, 60))
    person = _std(img, (20, 25, 60, 85))
    assert background < inside / 3 and person < inside / 3


def test_people_mode_blurs_person_boxes_only(city: City) -> None:
    out = render(_frame(), DETS, None, "people", ("person",))
    assert out is not None
    img = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
    assert _std(img, (20, 25, 60, 85)) < _std(img, (250, 10, 310, 60)) / 3


def test_undecodable_frame() -> None:
    assert render(b"\xff\xd8 not a jpeg", [], None, "background", ()) is None


def test_rates_and_health(city: City) -> None:
    rates = health.RateTracker(window_s=30)
    assert rates.rate("x", 10, now=0.0) == 0.0
    assert rates.rate("x", 30, now=2.0) == 10.0
    assert rates.rate("x", 5, now=3.0) == 0.0  # a restarted worker's counters start again
    now = datetime(2026, 5, 1, 8, 0, 10, tzinfo=UTC)
    stats = {
        "tickets@a:1": {
            "updated_at": datetime(2026, 5, 1, 8, 0, 9, tzinfo=UTC),
            "consumed": 10,
            "dlq": 1,
            "lag": 4,
        },
        "tickets@b:2": {
            "updated_at": datetime(2026, 5, 1, 7, 0, tzinfo=UTC),
            "consumed": 5,
            "lag": 1,
        },
        "vision@a:3": {
            "updated_at": now,
            "camera.cam-02.frames": 3,
            "camera.cam-02.seen_ms": int(now.timestamp() * 1000) - 120_000,
            "camera.cam-02.last_ms": 1_777_000_000_000,
        },
    }
    jobs = health.pipelines(stats, health.RateTracker(), now)
    # the worker silent for an hour (it died or restarted) is behind on nothing: its lag goes
    assert jobs["tickets"]["workers"] == 2 and jobs["tickets"]["lag"] == 4
    assert jobs["tickets"]["consumed"] == 15 and jobs["tickets"]["status"] == "ok"
    cams = {c["id"]: c for c in health.cameras(city, stats, health.RateTracker(), 60, now)}
    assert cams["cam-02"]["status"] == "stale" and cams["cam-02"]["frames"] == 3
    assert cams["cam-02"]["seen_s_ago"] == 120.0
    assert cams["cam-03"]["status"] == "never"


def test_people_and_plates_from_the_frame_are_hidden_in_every_mode(city: City) -> None:
    evidence = [{"cls": "vehicle", "confidence": 0.9, "box": [0.5, 0.2, 0.9, 0.8], "zone": "kerb"}]
    private = [{"cls": "person", "confidence": 0.7, "box": [0.05, 0.1, 0.2, 0.5]}]
    for mode in ("background", "people"):
        out = render(_frame(), evidence, None, mode, ("person",), ("vehicle",), private)
        assert out is not None
        img = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
        upper = _std(img, (170, 40, 280, 85))  # the vehicle's upper half stays as evidence
        plate = _std(img, (170, 95, 280, 140))  # its lower half, where the plate is
        person = _std(img, (20, 25, 60, 85))
        assert plate < upper / 3 and person < upper / 3, mode


def test_camera_gateway_health_leads_the_camera_panel(city: City) -> None:
    """A camera the gateway finds frozen shows so, with since-when, before the healthy ones;
    a gateway that stopped reporting says nothing any more."""
    now = datetime(2026, 5, 1, 8, 0, 10, tzinfo=UTC)
    since = int(now.timestamp() * 1000) - 30_000
    stats = {
        "vision@a:3": {
            "updated_at": now,
            "camera.cam-05.frames": 9,
            "camera.cam-05.seen_ms": int(now.timestamp() * 1000),
        },
        "cameras@gw:1": {
            "updated_at": now,
            "camera.cam-05.health": HealthState.FROZEN.code,
            "camera.cam-05.health_since_ms": since,
            "camera.cam-05.sampled": 40,
            "camera.cam-05.sent": 6,
            "camera.cam-01.health": HealthState.ONLINE.code,
        },
        "cameras@gw-old:2": {
            "updated_at": datetime(2026, 5, 1, 7, 0, tzinfo=UTC),
            "camera.cam-02.health": HealthState.OFFLINE.code,
        },
    }
    cams = health.cameras(city, stats, health.RateTracker(), 60, now)
    assert cams[0]["id"] == "cam-05" and cams[0]["status"] == "frozen"
    assert cams[0]["health_since"] == datetime.fromtimestamp(since / 1000, UTC).isoformat()
    assert (cams[0]["sent"], cams[0]["sampled"]) == (6, 40)
    by_id = {c["id"]: c for c in cams}
    assert by_id["cam-01"]["health"] == "online"
    assert by_id["cam-02"]["health"] is None  # its gateway went silent an hour ago
