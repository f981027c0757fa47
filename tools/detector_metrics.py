"""The shipped detector's held-out figures for its model card, by the code `citybrain eval
detections` runs: each real photo set's fixed validation split (through its own data.yaml and
the class map in config/datasets/), and the synthetic city's validation frames.

AP50 integrates the whole precision-recall curve (confidence threshold 0.001); precision and
recall are at the pipeline's own threshold (`vision.conf_threshold`). False boxes of classes a
set does not label (the synthetic-only ones on real photos) are counted per photo at that
threshold too: the figure a dispatcher would see as noise.

    python tools/detector_metrics.py --synthetic var/train/synthetic/data.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
SYNTHETIC_ONLY = ("flood_water", "fallen_tree", "traffic_cone", "barrier")


def merged_ap(items: list[Any], detect: Any, classes: list[str]) -> dict[str, Any] | None:
    """AP50 of litter piles and overflowing bins as one class (the taxonomy's overflowing_bin):
    a pile called a bin, or a bin a pile, is still the right event."""
    from dataclasses import replace

    from citybrain.replay.eval_detections import evaluate_detections
    from citybrain.vision.detections import Detections

    one = {"garbage": "litter", "bin_overflow": "litter"}
    if not any(c in one for item in items for c in item.classes):
        return None
    renamed = [replace(i, classes=tuple(one.get(c, c) for c in i.classes)) for i in items]

    def detect_one(images: list[Any]) -> list[Detections]:
        return [
            Detections.from_named(
                d.xyxyn, d.confidence, tuple(one.get(c, c) for c in d.class_names)
            )
            for d in detect(images)
        ]

    names = sorted({one.get(c, c) for c in classes})
    r = evaluate_detections(renamed, detect_one, names, 16)
    row = next(c for c in r["classes"] if c["name"] == "litter")
    return {"instances": row["instances"], "ap50": row["ap50"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--model", type=Path, default=ROOT / "models" / "demo" / "citybrain-yolov5n-city.pt"
    )
    ap.add_argument("--synthetic", type=Path, default=None, help="data.yaml of synthetic frames")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = ap.parse_args()

    from citybrain.city_loading import load_all
    from citybrain.replay import labels as lab
    from citybrain.replay.eval_detections import evaluate_detections
    from citybrain.vision.detector import Detector

    settings, _ = load_all(ROOT / "config" / "citybrain.yaml")
    pipeline_conf = settings.vision.conf_threshold
    curves = Detector.load(
        settings.vision.model_copy(update={"model": args.model, "conf_threshold": 0.001})
    )
    at_threshold = Detector(
        curves.model,
        curves.names,
        curves.settings.model_copy(update={"conf_threshold": pipeline_conf}),
    )
    classes = [curves.names[i] for i in sorted(curves.names)]
    sets: dict[str, tuple[Path, Path | None]] = {
        m.stem: (SHARED / m.stem / "data.yaml", m)
        for m in sorted((ROOT / "config" / "datasets").glob("*.yaml"))
        if (SHARED / m.stem / "data.yaml").exists()
    }
    if args.synthetic:
        sets["synthetic"] = (args.synthetic, None)
    report: dict[str, Any] = {
        "model": str(args.model.resolve().relative_to(ROOT)),
        "conf_threshold": pipeline_conf,
        "sets": {},
    }
    for name, (data_yaml, cmap_path) in sets.items():
        folder, names = lab.load_data_yaml(data_yaml)
        cmap = (
            lab.ClassMap.load(cmap_path, set(classes), names)
            if cmap_path
            else lab.ClassMap(names, {}, frozenset(classes))
        )
        items = lab.load_yolo(folder, cmap, "val" if cmap_path else None)
        curve = evaluate_detections(items, curves.detect, classes, 16)
        point = evaluate_detections(items, at_threshold.detect, classes, 16)
        labelled = {c["name"] for c in curve["classes"] if c["instances"]}
        per_class = {
            c["name"]: {"instances": c["instances"], "ap50": c["ap50"]}
            for c in curve["classes"]
            if c["instances"]
        }
        for c in point["classes"]:
            if c["name"] in per_class:
                per_class[c["name"]].update(precision=c["precision"], recall=c["recall"])
        unlabelled = {
            c["name"]: c["predictions"] for c in point["classes"] if c["name"] not in labelled
        }
        report["sets"][name] = {
            "images": curve["images"],
            "per_class": per_class,
            "map50": curve["all"]["map50"],
            "unlabelled_class_boxes_per_image": {
                k: round(v / max(1, point["images"]), 3) for k, v in sorted(unlabelled.items())
            },
            "synthetic_only_false_boxes_per_image": round(
                sum(unlabelled.get(k, 0) for k in SYNTHETIC_ONLY) / max(1, point["images"]), 3
            )
            if cmap_path
            else None,
            "frames_per_s": point["frames_per_s"],
        }
        merged = merged_ap(items, curves.detect, classes)
        if merged is not None:
            report["sets"][name]["per_class"]["garbage+bin_overflow"] = merged
        print(name, json.dumps(report["sets"][name]), flush=True)
    text = json.dumps(report, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
