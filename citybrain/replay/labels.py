"""Labelled image folders in the YOLO and COCO layouts, mapped onto the detector's classes.

The class map (`--map classes.yaml`) says what the dataset's classes are called and which
detector class each one means:

    names: {0: car, 1: pothole}      # YOLO only: class index -> dataset name (data.yaml style)
    map: {car: vehicle, truck: vehicle, person: null}   # dataset name -> detector class, or null
                                                        # to ignore; unlisted names map to
                                                        # themselves and must be detector classes

A label that names a class the map does not know is an error with its file and line, never a
silently dropped box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from citybrain.replay.errors import LabelError
from citybrain.vision.training_data import parse_yolo_line, split_of

_ANY_CLASS = 1 << 31
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2 normalised to the image
    classes: tuple[str, ...]  # detector class names


@dataclass(frozen=True)
class ClassMap:
    names: dict[int, str]
    mapping: dict[str, str | None]
    detector_classes: frozenset[str]

    @classmethod
    def load(
        cls,
        path: Path,
        detector_classes: set[str] | frozenset[str],
        dataset_names: dict[int, str] | None = None,
    ) -> ClassMap:
        """`dataset_names` (a data.yaml's) apply where the map file has no `names`."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise LabelError(f"{path}: {e}") from e
        if not isinstance(data, dict):
            raise LabelError(f"{path}: expected a mapping with `names` and/or `map`")
        raw = data.get("names") or {}
        names = dict(enumerate(raw)) if isinstance(raw, list) else raw
        if not isinstance(names, dict):
            raise LabelError(f"{path}: `names` must be a list or an index -> name mapping")
        mapping = data.get("map") or {}
        if not isinstance(mapping, dict):
            raise LabelError(f"{path}: `map` must be a mapping of dataset name -> detector class")
        bad = sorted(
            f"{k} -> {v}" for k, v in mapping.items() if v is not None and v not in detector_classes
        )
        if bad:
            raise LabelError(
                f"{path}: map targets that are not detector classes: {', '.join(bad)} "
                f"(the detector has {', '.join(sorted(detector_classes))})"
            )
        if not names and dataset_names:
            names = dataset_names
        return cls(
            names={int(k): str(v) for k, v in names.items()},
            mapping={str(k): (None if v is None else str(v)) for k, v in mapping.items()},
            detector_classes=frozenset(detector_classes),
        )

    def target(self, name: str, where: str) -> str | None:
        """The detector class for a dataset class name (None: ignored by the map)."""
        if name in self.mapping:
            return self.mapping[name]
        if name in self.detector_classes:
            return name
        raise LabelError(
            f"{where}: class {name!r} is unknown: map it to a detector class "
            f"({', '.join(sorted(self.detector_classes))}) or to null in the class map"
        )


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise LabelError(f"{folder}: not a folder")
    out = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not out:
        raise LabelError(f"{folder}: no images")
    return out


def _yolo_label_path(img: Path, root: Path) -> Path:
    """ultralytics' convention: …/images/… -> …/labels/…, else a .txt beside the image."""
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            candidate = Path(*parts).with_suffix(".txt")
            if candidate.exists():
                return candidate
            break
    return img.with_suffix(".txt")


def load_yolo(folder: Path, cmap: ClassMap, split: str | None = None) -> list[LabelledImage]:
    """Images under `folder` (only those of `split` by the fixed file-name split, if given); an
    image without a label file has no objects. Polygon lines count as their extent's box."""
    if not cmap.names:
        raise LabelError("YOLO labels need `names` (class index -> name) in the class map")
    out = []
    for img in _images(folder):
        if split is not None and split_of(img.name) != split:
            continue
        lp = _yolo_label_path(img, folder)
        boxes, classes = [], []
        if lp.exists():
            for n, line in enumerate(lp.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                where = f"{lp}:{n}"
                try:
                    idx, box = parse_yolo_line(line, _ANY_CLASS)  # the map says which exist
                except ValueError as e:
                    raise LabelError(
                        f"{where}: {e} (expected `class cx cy w h` or a polygon): {line!r}"
                    ) from e
                if idx not in cmap.names:
                    raise LabelError(f"{where}: class index {idx} is not in the class map")
                target = cmap.target(cmap.names[idx], where)
                if target is None:
                    continue
                boxes.append(box)
                classes.append(target)
        out.append(LabelledImage(img, np.array(boxes, np.float32).reshape(-1, 4), tuple(classes)))
    return out


def load_data_yaml(data_yaml: Path) -> tuple[Path, dict[int, str]]:
    """A YOLO dataset's `data.yaml`: the images to evaluate and the class names. A set with its
    own `val` folder (ultralytics' layout: relative to `path`) is evaluated on it; a set of
    one `images/` folder as a whole (then `--split` picks the fixed validation share)."""
    try:
        data = yaml.safe_load(Path(data_yaml).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise LabelError(f"{data_yaml}: {e}") from e
    if not isinstance(data, dict):
        raise LabelError(f"{data_yaml}: not a dataset description")
    raw = data.get("names")
    names = dict(enumerate(raw)) if isinstance(raw, list) else raw
    if not isinstance(names, dict) or not names:
        raise LabelError(f"{data_yaml}: no `names`")
    root = Path(data_yaml).parent
    folder = root / "images"
    if isinstance(data.get("val"), str):
        folder = root / str(data.get("path", ".")) / data["val"]
    return folder, {int(k): str(v) for k, v in names.items()}


def load_coco(folder: Path, annotations: Path, cmap: ClassMap) -> list[LabelledImage]:
    try:
        data: dict[str, Any] = json.loads(Path(annotations).read_text(encoding="utf-8"))
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        images = {int(i["id"]): i for i in data["images"]}
        anns = data.get("annotations", [])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LabelError(f"{annotations}: not a COCO detection file: {e}") from e
    per_image: dict[int, list[tuple[tuple[float, float, float, float], str]]] = {}
    for n, a in enumerate(anns):
        where = f"{annotations}: annotations[{n}]"
        try:
            cat, img_id, (x, y, w, h) = int(a["category_id"]), int(a["image_id"]), a["bbox"]
        except (KeyError, TypeError, ValueError) as e:
            raise LabelError(f"{where}: malformed: {e}") from e
        if cat not in cats:
            raise LabelError(f"{where}: category_id {cat} is not among the file's categories")
        if img_id not in images:
            raise LabelError(f"{where}: image_id {img_id} is not among the file's images")
        target = cmap.target(cats[cat], where)
        if target is None:
            continue
        iw, ih = float(images[img_id]["width"]), float(images[img_id]["height"])
        box = (x / iw, y / ih, (x + w) / iw, (y + h) / ih)
        per_image.setdefault(img_id, []).append((box, target))
    out = []
    for img_id, info in sorted(images.items()):
        path = Path(folder) / str(info["file_name"])
        if not path.is_file():
            raise LabelError(f"{annotations}: image {info['file_name']} not found in {folder}")
        items = per_image.get(img_id, [])
        out.append(
            LabelledImage(
                path,
                np.array([b for b, _ in items], np.float32).reshape(-1, 4),
                tuple(c for _, c in items),
            )
        )
    return out


def load_scene_folders(folder: Path, categories: set[str]) -> list[tuple[Path, str]]:
    """Image-level labels as one sub-folder per category (ImageFolder layout)."""
    if not Path(folder).is_dir():
        raise LabelError(f"{folder}: not a folder")
    out = []
    for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        if sub.name not in categories:
            raise LabelError(
                f"{sub}: {sub.name!r} is not a scene category ({', '.join(sorted(categories))})"
            )
        out += [(p, sub.name) for p in _images(sub)]
    if not out:
        raise LabelError(f"{folder}: no category sub-folders with images")
    return out
