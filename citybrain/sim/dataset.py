"""Training data for the detector: annotated synthetic frames in the ultralytics YOLO layout.

    out_dir/images/{train,val}/*.jpg   frames, JPEG quality 80 as the cameras publish them
    out_dir/labels/{train,val}/*.txt   one line per box: class_index cx cy w h (normalised)
    out_dir/data.yaml                  path, train, val and names for `yolo train data=...`

Each frame is one camera of the city at a random moment of a random day (about
NIGHT_SHARE of them at night) showing 0 to 3 events of different visual categories, the
categories dealt in shuffled rounds so each appears about equally often. Events are built
directly at the camera rather than by running scenarios; their ids (and so their shapes) follow
from the seed, the split and the frame number, so one seed always writes the same files.
Class indices follow the order of `names` in the detector's model YAML.

    python -m citybrain.sim.dataset OUT_DIR --train 2000 --val 300 --seed 1
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from citybrain.config.vision import VisionSettings
from citybrain.core.city import Camera, City
from citybrain.sim.render import (
    BOX_CLASSES,
    DRAWN_CATEGORIES,
    Box,
    encode_jpeg,
    render_annotated,
)
from citybrain.sim.scenario import SimEvent, is_visual
from citybrain.sim.truth import responsible_department

JPEG_QUALITY = 80
NIGHT_SHARE = 0.3
EVENTS_PER_FRAME = (0.15, 0.35, 0.3, 0.2)  # chance of 0, 1, 2, 3 events in a frame
SPLITS = ("train", "val")
_DAY_HOURS = (6.0, 18.5)  # local solar time; render.is_night is dark outside it
_YEAR = datetime(2024, 1, 1, tzinfo=UTC)
_DATASET_STREAM = 5  # sub-stream of the seed, apart from the simulator's own draws
_REPO_ROOT = Path(__file__).resolve().parents[2]


def detector_names(model_yaml: Path | None = None) -> list[str]:
    """The detector's class names in index order, from `names` in its model YAML.

    Default: the configured demo model (relative to the working directory, else to the
    repository this package lives in).
    """
    path = model_yaml or _default_model_yaml()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):  # ultralytics also accepts {index: name}
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: `names` must be a non-empty list of class names")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: `names` repeats a class")
    return names


def _default_model_yaml() -> Path:
    """The configured model's architecture file: the demo weights sit beside the YAML they were
    trained from, so `x.pt` reads `x.yaml`."""
    path = VisionSettings().model.with_suffix(".yaml")
    return path if path.is_absolute() or path.exists() else _REPO_ROOT / path


def write_yolo_dataset(
    city: City,
    out_dir: Path,
    n_train: int,
    n_val: int,
    seed: int,
    width: int = 640,
    height: int = 360,
    *,
    model_yaml: Path | None = None,
) -> Path:
    """Write n_train + n_val annotated frames and data.yaml under out_dir; returns data.yaml.

    Frames and labels left in out_dir's image and label folders by an earlier run are
    removed first, so the folders hold exactly this dataset.
    """
    if n_train < 0 or n_val < 0:
        raise ValueError("frame counts must not be negative")
    names = detector_names(model_yaml)
    index = {name: i for i, name in enumerate(names)}
    missing = [c for c in BOX_CLASSES if c not in index]
    if missing:
        raise ValueError(f"the detector has no class for {missing}; its names are {names}")

    out_dir = Path(out_dir).resolve()
    for split, n in zip(SPLITS, (n_train, n_val), strict=True):
        images, labels = _fresh_split_dirs(out_dir, split)
        for i, frame in enumerate(plan_frames(city, split, n, seed)):
            img, boxes = render_annotated(
                frame.camera, frame.events, frame.t, width, height, frame.noise_rng()
            )
            stem = f"{split}_{i:06d}"
            (images / f"{stem}.jpg").write_bytes(encode_jpeg(img, JPEG_QUALITY))
            (labels / f"{stem}.txt").write_text(_label_text(boxes, index), encoding="ascii")

    data = {
        "path": str(out_dir),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
    }
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return data_yaml


@dataclass(frozen=True)
class FramePlan:
    """What one dataset frame shows: a camera, a moment and the events in view."""

    camera: Camera
    t: datetime
    events: tuple[SimEvent, ...]
    noise_seed: tuple[int, ...]

    def noise_rng(self) -> np.random.Generator:
        return np.random.default_rng(list(self.noise_seed))


def plan_frames(city: City, split: str, n: int, seed: int) -> list[FramePlan]:
    """The n frames of one split: pure and cheap (nothing is drawn); same seed, same plan.

    Each split draws from its own sub-stream, so the validation frames do not change when
    the number of training frames does.
    """
    split_no = SPLITS.index(split)
    categories = _drawable_categories(city)
    if not city.cameras:
        raise ValueError("the city has no cameras")
    rng = np.random.default_rng([seed, _DATASET_STREAM, split_no])
    deck: list[str] = []
    plans: list[FramePlan] = []
    for i in range(n):
        camera = city.cameras[int(rng.integers(0, len(city.cameras)))]
        t = _moment(camera, rng)
        k = int(rng.choice(len(EVENTS_PER_FRAME), p=EVENTS_PER_FRAME))
        cats = _deal(deck, categories, min(k, len(categories)), rng)
        events = tuple(
            _event(city, camera, cat, f"ds{seed}-{split}-{i:06d}-{j}", t)
            for j, cat in enumerate(cats)
        )
        plans.append(FramePlan(camera, t, events, (seed, _DATASET_STREAM, split_no, i)))
    return plans


def label_counts(out_dir: Path) -> dict[str, Counter[str]]:
    """Boxes per class name in each split of a dataset written by write_yolo_dataset."""
    data = yaml.safe_load((Path(out_dir) / "data.yaml").read_text(encoding="utf-8"))
    names = {int(k): str(v) for k, v in data["names"].items()}
    counts: dict[str, Counter[str]] = {}
    for split in SPLITS:
        c: Counter[str] = Counter()
        for f in sorted((Path(out_dir) / "labels" / split).glob("*.txt")):
            for line in f.read_text(encoding="ascii").splitlines():
                if line.strip():
                    c[names[int(line.split()[0])]] += 1
        counts[split] = c
    return counts


def _drawable_categories(city: City) -> list[str]:
    cats = [c.id for c in city.categories if is_visual(c) and c.id in DRAWN_CATEGORIES]
    if not cats:
        raise ValueError("the city's taxonomy has no visual category the renderer can draw")
    return cats


def _fresh_split_dirs(out_dir: Path, split: str) -> tuple[Path, Path]:
    images, labels = out_dir / "images" / split, out_dir / "labels" / split
    for folder, pattern in ((images, "*.jpg"), (labels, "*.txt")):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(pattern):
            old.unlink()
    (out_dir / "labels" / f"{split}.cache").unlink(missing_ok=True)  # ultralytics' label cache
    return images, labels


def _moment(camera: Camera, rng: np.random.Generator) -> datetime:
    """A random day of the year at a random local solar hour: night with NIGHT_SHARE."""
    day = _YEAR + timedelta(days=int(rng.integers(0, 366)))
    start, end = _DAY_HOURS
    if rng.random() < NIGHT_SHARE:
        hour = rng.uniform(end, start + 24.0) % 24.0
    else:
        hour = rng.uniform(start, end)
    # UTC midnight is local hour lon/15, so this is `hour` local solar time (render.local_hour)
    return day + timedelta(hours=float(hour) - camera.lon / 15.0)


def _deal(deck: list[str], categories: list[str], k: int, rng: np.random.Generator) -> list[str]:
    """k different categories off the top of a deck of shuffled rounds (refilled as needed)."""
    chosen: list[str] = []
    while len(chosen) < k:
        if not any(c not in chosen for c in deck):
            deck += [categories[int(j)] for j in rng.permutation(len(categories))]
        pick = next(n for n, c in enumerate(deck) if c not in chosen)
        chosen.append(deck.pop(pick))
    return chosen


def _event(city: City, camera: Camera, category: str, event_id: str, t: datetime) -> SimEvent:
    return SimEvent(
        id=event_id,
        category=category,
        lon=camera.lon,
        lat=camera.lat,
        district=camera.district,
        department=responsible_department(city, category, camera.district),
        starts_at=t - timedelta(hours=1),
        ends_at=t + timedelta(hours=1),
        camera_id=camera.id,
        place_en=camera.name,
        place_zh=camera.name,
        place_kind="intersection",
        streets=(),
        landmark=None,
        reported=False,
    )


def _label_text(boxes: list[Box], index: dict[str, int]) -> str:
    return "".join(f"{index[b.cls]} {b.cx:.6f} {b.cy:.6f} {b.w:.6f} {b.h:.6f}\n" for b in boxes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m citybrain.sim.dataset",
        description="Write synthetic street-camera frames with YOLO labels for detector training.",
    )
    parser.add_argument("out_dir", type=Path, help="dataset folder (data.yaml goes here)")
    parser.add_argument("--train", type=int, default=2000, help="training frames (2000)")
    parser.add_argument("--val", type=int, default=300, help="validation frames (300)")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same files (1)")
    parser.add_argument("--width", type=int, default=640, help="frame width (640)")
    parser.add_argument("--height", type=int, default=360, help="frame height (360)")
    parser.add_argument("--config", type=Path, default=None, help="settings YAML to load")
    parser.add_argument(
        "--model-yaml", type=Path, default=None, help="detector YAML whose names give class ids"
    )
    args = parser.parse_args(argv)

    from citybrain.city_loading import load_all

    _, city = load_all(args.config)
    data_yaml = write_yolo_dataset(
        city,
        args.out_dir,
        args.train,
        args.val,
        args.seed,
        args.width,
        args.height,
        model_yaml=args.model_yaml,
    )
    print(data_yaml)
    names = detector_names(args.model_yaml)
    for split, counts in label_counts(args.out_dir).items():
        print(f"{split}: " + ", ".join(f"{name} {counts[name]}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
