"""Real labelled photo sets as one detector training set, in the detector's class names.

Each source is a YOLO folder (`images/`, `labels/`, `data.yaml`) with its own class names; a
class map sends them to the detector's (`null` drops a class: the garbage set's ordinary bins
become background, so only an overflowing bin is `bin_overflow`). Every image gets a fixed
split from a hash of its file name, so the validation photos are the same on every run and
machine and never leak into training (`split_of`). Images are linked, not copied: the data
stays where its licence put it.

Bad records are skipped and counted by reason, never a crashed run: unreadable or blank
images, malformed label lines, class indices the source does not have, boxes under
`MIN_BOX_PX` on a side. Boxes are clipped to the image.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

VAL_SHARE = 0.15
MIN_BOX_PX = 2.0  # a box thinner than this at the image's own size cannot be learned
BLANK_STD = 2.0  # grey levels: below this the frame is one colour (a dead camera, a failed read)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 normalised to the image


def split_of(name: str, val_share: float = VAL_SHARE) -> str:
    """`val` for a fixed share of file names, `train` for the rest (sha1 of the name)."""
    h = int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16)
    return "val" if h / 0x1_0000_0000 < val_share else "train"


def parse_yolo_line(line: str, n_classes: int) -> tuple[int, Box]:
    """One label line, a box (`c cx cy w h`) or a polygon (`c x1 y1 x2 y2 ...`, whose box is
    its extent), as (class index, clipped xyxy). Raises ValueError with the reason."""
    parts = line.split()
    try:
        idx_f, *vals = (float(x) for x in parts)
    except ValueError:
        raise ValueError("malformed_line") from None
    if idx_f != int(idx_f) or not 0 <= idx_f < n_classes:
        raise ValueError("class_out_of_range")
    if len(vals) == 4:
        cx, cy, w, h = vals
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    elif len(vals) >= 6 and len(vals) % 2 == 0:
        xs, ys = vals[0::2], vals[1::2]
        box = (min(xs), min(ys), max(xs), max(ys))
    else:
        raise ValueError("malformed_line")
    if not all(np.isfinite(box)):
        raise ValueError("malformed_line")
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return int(idx_f), (x1, y1, x2, y2)


@dataclass(frozen=True)
class Source:
    """A labelled folder and what its class names mean to the detector."""

    name: str
    root: Path
    names: tuple[str, ...]  # the source's class names, in index order
    mapping: dict[str, str | None]  # source name -> detector class (None: drop)

    @classmethod
    def load(cls, name: str, root: Path, class_map: Path, detector: Sequence[str]) -> Source:
        data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8")) or {}
        raw = data.get("names")
        names = [raw[k] for k in sorted(raw)] if isinstance(raw, dict) else list(raw or [])
        mapping = (yaml.safe_load(class_map.read_text(encoding="utf-8")) or {}).get("map") or {}
        full = {n: mapping.get(n, n) for n in names}
        bad = sorted(f"{k} -> {v}" for k, v in full.items() if v is not None and v not in detector)
        if bad:
            raise ValueError(f"{class_map}: targets that are not detector classes: {bad}")
        return cls(name, root, tuple(names), full)


@dataclass(frozen=True)
class Labelled:
    image: Path
    size: tuple[int, int]  # width, height
    classes: tuple[str, ...]
    boxes: tuple[Box, ...]


@dataclass
class BuildReport:
    images: Counter[str] = field(default_factory=Counter)  # "source/split" -> kept images
    boxes: Counter[str] = field(default_factory=Counter)  # "split/class" -> boxes
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "images": dict(sorted(self.images.items())),
            "boxes": dict(sorted(self.boxes.items())),
            "skipped": dict(sorted(self.skipped.items())),
        }


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height), or None for a file that is not a readable image or is one colour."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None or img.size == 0 or float(img[::4, ::4].std()) < BLANK_STD:
        return None
    return int(img.shape[1]), int(img.shape[0])


def read_source(src: Source, report: BuildReport) -> Iterable[Labelled]:
    """The source's usable images with their boxes in detector classes."""
    for img in sorted(
        p for p in (src.root / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
    ):
        size = image_size(img)
        if size is None:
            report.skipped["unreadable_or_blank_image"] += 1
            continue
        w, h = size
        label = src.root / "labels" / img.relative_to(src.root / "images").with_suffix(".txt")
        classes, boxes = [], []
        lines = (
            label.read_text(encoding="utf-8", errors="replace").splitlines()
            if label.exists()
            else []
        )
        for line in lines:
            if not line.strip():
                continue
            try:
                idx, box = parse_yolo_line(line, len(src.names))
            except ValueError as e:
                report.skipped[str(e)] += 1
                continue
            target = src.mapping[src.names[idx]]
            if target is None:
                report.skipped[f"dropped_class:{src.names[idx]}"] += 1
                continue
            if (box[2] - box[0]) * w < MIN_BOX_PX or (box[3] - box[1]) * h < MIN_BOX_PX:
                report.skipped["box_too_small"] += 1
                continue
            classes.append(target)
            boxes.append(box)
        yield Labelled(img, size, tuple(classes), tuple(boxes))


def yolo_text(item: Labelled, index: dict[str, int]) -> str:
    rows = []
    for c, (x1, y1, x2, y2) in zip(item.classes, item.boxes, strict=True):
        rows.append(
            f"{index[c]} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}"
        )
    return "".join(r + "\n" for r in rows)


def write_item(out: Path, split: str, stem: str, item: Labelled, index: dict[str, int]) -> None:
    """A symlink to the image and its label file, in ultralytics' images/ labels/ layout."""
    img_dir, lbl_dir = out / "images" / split, out / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    link = img_dir / f"{stem}{item.image.suffix.lower()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(item.image.resolve(), link)
    (lbl_dir / f"{stem}.txt").write_text(yolo_text(item, index), encoding="ascii")


def with_extra_boxes(item: Labelled, classes: Sequence[str], boxes: Sequence[Box]) -> Labelled:
    return Labelled(item.image, item.size, item.classes + tuple(classes), item.boxes + tuple(boxes))


def scene_category(item: Labelled, category_of: dict[str, str]) -> str | None:
    """The one taxonomy category an image's own labels name (its scene label), else None.
    People and vehicles marked by pseudo-labels are no scene label: pass only real labels."""
    cats = {category_of[c] for c in item.classes if c in category_of}
    return next(iter(cats)) if len(cats) == 1 else None


def real_sources(shared: Path, maps: Path, detector: Sequence[str]) -> list[Source]:
    """The shared real photo sets that have a class map under `maps` (config/datasets)."""
    return [
        Source.load(m.stem, shared / m.stem, m, detector)
        for m in sorted(maps.glob("*.yaml"))
        if (shared / m.stem / "data.yaml").exists()
    ]
