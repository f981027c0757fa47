from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
import pytest

from citybrain.core.city import Camera, City
from citybrain.sim import SimEvent, encode_jpeg, is_night, render_frame
from citybrain.sim.render import zone_for

from .conftest import START

W, H = 640, 360
VISUAL = (
    "overflowing_bin",
    "flooding",
    "smoke_fire",
    "pothole",
    "fallen_tree",
    "illegal_parking",
    "road_construction",
)


def _event(camera: Camera, category: str, n: int = 1) -> SimEvent:
    return SimEvent(
        id=f"ev-{n:03d}",
        category=category,
        lon=camera.lon,
        lat=camera.lat,
        district=camera.district,
        department="x",
        starts_at=START,
        ends_at=START + timedelta(hours=1),
        camera_id=camera.id,
        place_en="",
        place_zh="",
        place_kind="intersection",
        streets=(),
        landmark=None,
        reported=True,
    )


def _mask(camera: Camera, category: str) -> np.ndarray:
    zone = zone_for(camera, category)
    assert zone is not None
    mask = np.zeros((H, W), np.uint8)
    pts = np.array([[round(x * (W - 1)), round(y * (H - 1))] for x, y in zone.polygon], np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def _frame(camera: Camera, events: list[SimEvent], hours: float = 0.0, seed: int = 1) -> np.ndarray:
    return render_frame(
        camera, events, START + timedelta(hours=hours), W, H, np.random.default_rng(seed)
    )


def test_frame_shape_and_jpeg_roundtrip(city: City) -> None:
    img = _frame(city.cameras[0], [])
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    data = encode_jpeg(img)
    assert data[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (H, W, 3)
    assert float(np.abs(decoded.astype(int) - img.astype(int)).mean()) < 6


def test_same_inputs_same_pixels(city: City) -> None:
    cam = city.cameras[3]
    ev = [_event(cam, "flooding"), _event(cam, "smoke_fire", 2)]
    assert np.array_equal(_frame(cam, ev), _frame(cam, ev))
    assert encode_jpeg(_frame(cam, ev)) == encode_jpeg(_frame(cam, ev))
    assert not np.array_equal(_frame(cam, ev, seed=1), _frame(cam, ev, seed=2))  # sensor noise


@pytest.mark.parametrize("category", VISUAL)
def test_event_changes_its_zone(city: City, category: str) -> None:
    cam = city.cameras[1]
    for hours in (0.0, 12.0):  # day and night
        plain = _frame(cam, [], hours).astype(int)
        shown = _frame(cam, [_event(cam, category)], hours).astype(int)
        changed = np.abs(shown - plain).sum(axis=2) > 30  # same rng: same noise, so 0 elsewhere
        zone = _mask(cam, category)
        assert changed[zone].mean() > 0.01, (category, hours, changed[zone].mean())
        assert changed[zone].sum() / changed.sum() > 0.6  # drawn where its zone watches


def test_events_stay_put_between_frames(city: City) -> None:
    cam = city.cameras[0]
    ev = [_event(cam, "pothole")]
    road = _mask(cam, "pothole")

    def drawn(hours: float) -> np.ndarray:
        diff = _frame(cam, ev, hours).astype(int) - _frame(cam, [], hours).astype(int)
        return (np.abs(diff).sum(axis=2) > 30)[road]

    a, b = drawn(0.0), drawn(0.5)
    assert a.sum() > 0
    assert np.mean(a != b) < 0.01  # only passing cars may hide a little of it


def test_traffic_moves(city: City) -> None:
    cam = city.cameras[0]
    a = _frame(cam, [], 0.0)
    b = _frame(cam, [], 0.0 + 3 / 3600)
    road = _mask(cam, "pothole")
    assert (np.abs(a.astype(int) - b.astype(int)).sum(axis=2)[road] > 60).mean() > 0.002


def test_day_is_brighter_than_night(city: City) -> None:
    cam = city.cameras[0]
    day_t, night_t = START, START + timedelta(hours=12)  # 10:00 and 22:00 local solar time
    assert not is_night(day_t, cam.lon) and is_night(night_t, cam.lon)
    day = cv2.cvtColor(_frame(cam, [], 0.0), cv2.COLOR_BGR2GRAY).mean()
    night = cv2.cvtColor(_frame(cam, [], 12.0), cv2.COLOR_BGR2GRAY).mean()
    assert day > night + 50
