"""The real photos' validation split as scene folders (one sub-folder per taxonomy category),
for `citybrain eval detections DIR --scene`: how the CLIP scene scores do on real images.

An image's category is the one its own labels name (person and vehicle pseudo-labels are not
scene labels); an image whose labels name no category, or two, is left out.

    python tools/real_scene_split.py var/scene-val
    citybrain eval detections var/scene-val --scene
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--split", default="val", choices=("train", "val"))
    args = ap.parse_args()

    import yaml

    from citybrain.city_loading import load_all
    from citybrain.vision.training_data import (
        BuildReport,
        read_source,
        real_sources,
        scene_category,
        split_of,
    )

    names = yaml.safe_load((ROOT / "models" / "demo" / "citybrain-yolov5n-city.yaml").read_text())[
        "names"
    ]
    _, city = load_all(ROOT / "config" / "citybrain.yaml")
    category_of = {cls: c.id for c in city.categories for cls in c.detector_classes}
    if args.out.exists():
        shutil.rmtree(args.out)
    counts: Counter[str] = Counter()
    for src in real_sources(SHARED, ROOT / "config" / "datasets", names):
        for item in read_source(src, BuildReport()):
            if split_of(item.image.name) != args.split:
                continue
            cat = scene_category(item, category_of)
            if cat is None:
                counts["left_out"] += 1
                continue
            folder = args.out / cat
            folder.mkdir(parents=True, exist_ok=True)
            os.symlink(item.image.resolve(), folder / f"{src.name}_{item.image.name}")
            counts[cat] += 1
    print(dict(counts))


if __name__ == "__main__":
    main()
