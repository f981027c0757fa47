"""Annotated rendering (boxes where things were drawn) and the YOLO training-set writer."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from citybrain.core.city import Camera, City
from citybrain.sim import SimEvent, is_night, render_frame
from citybrain.sim.dataset import (
    NIGHT_SHARE,
    detector_names,
    label_counts,
    plan_frames,
    write_yolo_dataset,
)
from citybrain.sim.render import BOX_CLASSES, MIN_BOX_PX, Box, render_annotated, zone_for

from .conftest import START
from .test_render import VISUAL

W, H = 640, 360
NAMES = [
    "vehicle",
    "person",
    "garbage",
    "bin_overflow",
    "fire",
    "smoke",
    "pothole",
    "flood_water",
    "fallen_tree",
    "traffic_cone",
    "barrier",
]
MOMENTS = (0.0, 12.0)  # 10:00 and 22:00 local solar time: day and night


def _event(camera: Camera, category: str, n: int = 1) -> SimEvent:
    return SimEvent(
        id=f"ev-{n:03d}",
        category=category,
        lon=camera.lon,
        lat=camera.lat,
        district=camera.district,
        department="x",
        starts_at=START,
        ends_at=START + timedelta(days=1),
        camera_id=camera.id,
        place_en="",
        place_zh="",
        place_kind="intersection",
        streets=(),
        landmark=None,
        reported=True,
    )


def _annotated(
    camera: Camera, events: list[SimEvent], hours: float = 0.0, seed: int = 1
) -> tuple[np.ndarray, list[Box]]:
    t = START + timedelta(hours=hours)
    return render_annotated(camera, events, t, W, H, np.random.default_rng(seed))


def _in_zone(camera: Camera, category: str, x: float, y: float) -> bool:
    zone = zone_for(camera, category)
    assert zone is not None
    poly = np.array(zone.polygon, np.float32)
    return cv2.pointPolygonTest(poly, (x, y), False) >= 0


def _box_mask(boxes: list[Box], pad: int = 0) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    for b in boxes:
        x1, y1 = round(b.x1 * W) - pad, round(b.y1 * H) - pad
        x2, y2 = round(b.x2 * W) + pad, round(b.y2 * H) + pad
        mask[max(0, y1) : y2, max(0, x1) : x2] = True
    return mask


# --------------------------------------------------------------------------- annotation


def test_render_frame_is_the_annotated_frame(city: City) -> None:
    cases = [
        (0, [], 0.0),
        (3, ["flooding", "smoke_fire"], 0.0),
        (5, ["pothole", "illegal_parking", "overflowing_bin"], 12.0),
        (11, list(VISUAL), 12.0),
        (7, ["fallen_tree", "road_construction"], 3.7),
    ]
    for cam_index, cats, hours in cases:
        cam = city.cameras[cam_index]
        events = [_event(cam, c, i) for i, c in enumerate(cats)]
        t = START + timedelta(hours=hours)
        plain = render_frame(cam, events, t, W, H, np.random.default_rng(cam_index))
        img, _ = render_annotated(cam, events, t, W, H, np.random.default_rng(cam_index))
        assert np.array_equal(plain, img), (cam_index, cats, hours)


def test_boxes_lie_inside_the_frame_and_are_not_tiny(city: City) -> None:
    seen: Counter[str] = Counter()
    for frame in plan_frames(city, "train", 40, seed=3):
        _, boxes = render_annotated(frame.camera, frame.events, frame.t, W, H, frame.noise_rng())
        for b in boxes:
            assert b.cls in NAMES
            assert 0.0 <= b.x1 < b.x2 <= 1.0 and 0.0 <= b.y1 < b.y2 <= 1.0, b
            assert b.w * W >= MIN_BOX_PX and b.h * H >= MIN_BOX_PX, b
            seen[b.cls] += 1
    assert seen["vehicle"] > 40  # moving traffic gets boxes too


EXPECTED = {
    "overflowing_bin": {"bin_overflow"},
    "flooding": {"flood_water"},
    "pothole": {"pothole"},
    "fallen_tree": {"fallen_tree"},
    "road_construction": {"traffic_cone", "barrier"},  # both
    "smoke_fire": {"smoke", "fire"},  # either is enough
}


@pytest.mark.parametrize("category", VISUAL)
def test_each_category_is_boxed_as_its_classes(city: City, category: str) -> None:
    cat = next(c for c in city.categories if c.id == category)
    assert set(cat.detector_classes) <= set(NAMES)
    found = 0
    frames = [(cam, hours) for cam in city.cameras[::2] for hours in MOMENTS]
    for cam, hours in frames:
        _, before = _annotated(cam, [], hours)
        _, after = _annotated(cam, [_event(cam, category)], hours)
        new = Counter(b.cls for b in after) - Counter(b.cls for b in before)
        if category == "illegal_parking":
            kerb = [b for b in after if b.cls == "vehicle" and _in_zone(cam, category, b.cx, b.y2)]
            assert not [b for b in before if _in_zone(cam, category, b.cx, b.y2)]
            ok = len(kerb) == 1
        elif category == "road_construction":
            ok = new["traffic_cone"] >= 3 and new["barrier"] == 1
        elif category == "smoke_fire":
            ok = new["smoke"] + new["fire"] >= 1
        else:
            (cls,) = EXPECTED[category]
            ok = new[cls] >= 1
        found += ok
    if category == "pothole":  # the one thing a passing car can hide for a moment
        assert found >= len(frames) - 2, (found, len(frames))
    else:
        assert found == len(frames), (found, len(frames))


def test_a_tidy_bin_gets_no_box(city: City) -> None:
    others = [c for c in VISUAL if c != "overflowing_bin"]
    for cam in city.cameras[:4]:
        for hours in MOMENTS:
            events = [_event(cam, c, i) for i, c in enumerate(others)]
            _, boxes = _annotated(cam, events, hours)
            assert not [b for b in boxes if b.cls == "bin_overflow"]
            _, boxes = _annotated(cam, [*events, _event(cam, "overflowing_bin", 99)], hours)
            (bin_box,) = [b for b in boxes if b.cls == "bin_overflow"]
            assert _in_zone(cam, "overflowing_bin", bin_box.cx, bin_box.cy)


@pytest.mark.parametrize(
    ("category", "cls", "min_cover"),
    [
        ("pothole", "pothole", 0.45),
        ("flooding", "flood_water", 0.4),
        ("fallen_tree", "fallen_tree", 0.2),
    ],
)
def test_box_covers_the_drawing(city: City, category: str, cls: str, min_cover: float) -> None:
    checked = 0
    for cam in city.cameras[1::3]:
        for hours in MOMENTS:
            plain = _annotated(cam, [], hours)[0].astype(int)
            img, boxes = _annotated(cam, [_event(cam, category, 7)], hours)
            changed = np.abs(img.astype(int) - plain).sum(axis=2) > 30  # same noise: 0 elsewhere
            mine = [b for b in boxes if b.cls == cls]
            if not mine:
                continue
            checked += 1
            inside = _box_mask(mine)
            assert changed[inside].mean() > min_cover, (cam.id, hours, changed[inside].mean())
            outside = changed & ~_box_mask(mine, pad=2)  # anti-aliased edges may spill a pixel
            assert outside.sum() <= 0.01 * changed.sum(), (cam.id, hours, outside.sum())
    assert checked >= 6


# --------------------------------------------------------------------------- dataset


def test_plan_is_diverse(city: City) -> None:
    plans = plan_frames(city, "train", 2000, seed=1)
    per_frame = Counter(len(p.events) for p in plans)
    assert set(per_frame) == {0, 1, 2, 3} and per_frame[0] > 100
    cats = Counter(e.category for p in plans for e in p.events)
    assert set(cats) == set(VISUAL)
    assert max(cats.values()) - min(cats.values()) <= 1  # dealt in shuffled rounds
    night = sum(is_night(p.t, p.camera.lon) for p in plans) / len(plans)
    assert abs(night - NIGHT_SHARE) < 0.04
    assert len({p.camera.id for p in plans}) == len(city.cameras)
    assert len({p.t.date() for p in plans}) > 200
    for p in plans:
        assert len({e.category for e in p.events}) == len(p.events)
        assert all(e.camera_id == p.camera.id and e.active_at(p.t) for e in p.events)
    ids = [e.id for p in plans for e in p.events]
    assert len(set(ids)) == len(ids)  # every event its own shape
    assert plan_frames(city, "val", 5, seed=1) != plan_frames(city, "val", 5, seed=2)


def test_names_come_from_the_model_yaml(city: City, tmp_path: Path) -> None:
    assert detector_names() == NAMES
    assert set(BOX_CLASSES) == set(NAMES) - {"person", "garbage"}  # real-photo-only classes
    custom = tmp_path / "m.yaml"
    custom.write_text("names: [a, b]\nnc: 2\n")
    assert detector_names(custom) == ["a", "b"]
    with pytest.raises(ValueError, match="no class for"):
        write_yolo_dataset(city, tmp_path / "ds", 1, 1, seed=1, model_yaml=custom)


def _read_labels(folder: Path) -> dict[str, str]:
    return {f.name: f.read_text() for f in sorted(folder.glob("*.txt"))}


def test_write_yolo_dataset(city: City, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    data_yaml = write_yolo_dataset(city, out, n_train=12, n_val=4, seed=5)
    assert data_yaml == out.resolve() / "data.yaml"
    data = yaml.safe_load(data_yaml.read_text())
    assert data["path"] == str(out.resolve())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert data["names"] == dict(enumerate(NAMES))

    classes: Counter[int] = Counter()
    for split, n in (("train", 12), ("val", 4)):
        images = sorted((out / "images" / split).glob("*.jpg"))
        labels = sorted((out / "labels" / split).glob("*.txt"))
        assert len(images) == n
        assert [p.stem for p in images] == [p.stem for p in labels]
        img = cv2.imread(str(images[0]))
        assert img is not None and img.shape == (H, W, 3)
        for lab in labels:
            for line in lab.read_text().splitlines():
                fields = line.split()
                assert len(fields) == 5, line
                cls = int(fields[0])
                cx, cy, w, h = map(float, fields[1:])
                assert 0 <= cls < len(NAMES)
                assert w > 0 and h > 0
                eps = 1e-6  # six decimals in the file
                assert cx - w / 2 >= -eps and cx + w / 2 <= 1 + eps
                assert cy - h / 2 >= -eps and cy + h / 2 <= 1 + eps
                classes[cls] += 1
    assert classes[0] > 0  # traffic in every frame
    counts = label_counts(out)
    assert sum(counts["train"].values()) + sum(counts["val"].values()) == sum(classes.values())

    # a smaller rewrite of the same folder leaves none of the old frames behind
    write_yolo_dataset(city, out, n_train=3, n_val=1, seed=5)
    assert len(list((out / "images" / "train").glob("*.jpg"))) == 3
    assert len(list((out / "labels" / "val").glob("*.txt"))) == 1


def test_same_seed_same_dataset(city: City, tmp_path: Path) -> None:
    a = write_yolo_dataset(city, tmp_path / "a", 6, 2, seed=9).parent
    b = write_yolo_dataset(city, tmp_path / "b", 6, 2, seed=9).parent
    c = write_yolo_dataset(city, tmp_path / "c", 6, 2, seed=10).parent
    for split in ("train", "val"):
        la = _read_labels(a / "labels" / split)
        assert la == _read_labels(b / "labels" / split)
        assert la != _read_labels(c / "labels" / split)
        for f in (a / "images" / split).glob("*.jpg"):
            assert f.read_bytes() == (b / "images" / split / f.name).read_bytes()
