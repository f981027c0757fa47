"""Cost of fusion and camera rules per record, against parsing the record (the work every
incident worker does anyway), measured in the same run.

    .venv/bin/python tools/bench/fusion_rules.py [--observations 5000]

Fusion is timed with 10, 100 and 1000 open incidents spread over the sample city (matching is
a scan of the open incidents of the observation's cell); camera rules per frame of 12 cameras
with a few detections each. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from citybrain.city_loading import load_all
from citybrain.core.camera_rules import CameraRules
from citybrain.core.fusion import Fuser
from citybrain.core.messages import GeoPoint, Observation
from citybrain.core.zones import class_categories, evidence_by_category

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def observations(n: int, places: int, rng: np.random.Generator) -> list[bytes]:
    lon = rng.uniform(120.10, 120.22, places)
    lat = rng.uniform(30.23, 30.30, places)
    out = []
    for i in range(n):
        p = int(rng.integers(0, places))
        o = Observation(
            id=f"o{i}",
            source="ticket",
            source_id=f"T{i}",
            category="pothole",
            confidence=0.8,
            observed_at=T0 + timedelta(seconds=i),
            location=GeoPoint(lon=float(lon[p]), lat=float(lat[p])),
            district="xicheng",
        )
        out.append(o.model_dump_json().encode())
    return out


def rate(fn: object, items: list) -> float:
    t0 = time.perf_counter()
    for x in items:
        fn(x)  # type: ignore[operator]
    return len(items) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observations", type=int, default=5000)
    args = ap.parse_args(argv)
    settings, city = load_all()
    rng = np.random.default_rng(1)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| work | records/s | vs parsing |\n| --- | --- | --- |")
    for places in (10, 100, 1000):
        raw = observations(args.observations, places, rng)
        parse = rate(Observation.model_validate_json, raw)
        parsed = [Observation.model_validate_json(r) for r in raw]
        fuser = Fuser(city, settings.incidents.model_copy(update={"fusion_radius_m": 50.0}))
        fuse = rate(fuser.apply, parsed)
        print(f"| parse observation JSON ({places} places) | {parse:,.0f} | 1.00 |")
        print(
            f"| fuse ({len(fuser.incidents)} incidents open) | {fuse:,.0f} | {fuse / parse:.2f} |"
        )
    classes = class_categories(city)
    frames = []
    for i in range(args.observations // 10):
        cam = city.cameras[i % len(city.cameras)]
        frames.append((cam, T0 + timedelta(seconds=60 * (i // 12))))
    names = ("vehicle", "bin_overflow")
    conf = np.array([0.9, 0.8], np.float32)
    boxes = np.array([(0.88, 0.62, 0.98, 0.95), (0.05, 0.6, 0.15, 0.9)], np.float32)
    zones = rate(lambda f: evidence_by_category(f[0], names, conf, boxes, classes), frames)
    rules = CameraRules(city, settings.rules)

    def step(f: tuple) -> None:
        tracked = evidence_by_category(f[0], names, conf, boxes, classes, np.array([1, 2]))
        rules.step(f[0].id, f[1], tracked)

    stepped = rate(step, frames)
    print(f"| zones only, per frame | {zones:,.0f} | baseline |")
    print(f"| zones + camera rules, per frame | {stepped:,.0f} | {stepped / zones:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
