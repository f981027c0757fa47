"""Train the demo models on frames rendered by the synthetic city: the detector here, and with
`--clip` the CLIP-style scene model too (tools/train_demo_clip.py, same renderer).

No pretrained weights can be fetched where citybrain is built, so the demo model is trained
from scratch on the simulator's own labelled frames: it learns this city's rendered bins,
potholes, floods and cars, nothing more. A city replaces it with a model trained on its own
footage (`vision.model`).

    python tools/train_demo_models.py --train 2000 --val 300 --epochs 60 --device 0

Writes models/demo/citybrain-yolov8n.pt and models/demo/citybrain-yolov8n.metrics.json
(and, with --clip, models/demo/citybrain-clip-tiny.pt with its metrics).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--train", type=int, default=2000, help="training frames to render")
    ap.add_argument("--val", type=int, default=300, help="validation frames to render")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu", help="cpu, 0, 0,1 ...")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "train")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument(
        "--clip", action="store_true", help="then train the CLIP model (its default recipe)"
    )
    args = ap.parse_args()

    from citybrain.config import load_all
    from citybrain.sim.dataset import write_yolo_dataset
    from citybrain.vision.detector import prepare_ultralytics_offline

    prepare_ultralytics_offline(args.work / "ultralytics")
    from ultralytics import YOLO

    _, city = load_all(ROOT / "config" / "citybrain.yaml")
    t0 = time.time()
    data = write_yolo_dataset(city, args.work / "dataset", args.train, args.val, args.seed)
    t_data = time.time() - t0

    arch = ROOT / "models" / "demo" / "citybrain-yolov8n.yaml"
    model = YOLO(str(arch), task="detect")
    t0 = time.time()
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        project=str(args.work / "runs"),
        name="detector",
        exist_ok=True,
        pretrained=False,
        seed=args.seed,
        deterministic=True,
        amp=False,  # the AMP self-check wants to download a reference model
        plots=False,
        verbose=False,
    )
    t_train = time.time() - t0
    best = args.work / "runs" / "detector" / "weights" / "best.pt"
    metrics = YOLO(str(best)).val(data=str(data), imgsz=args.imgsz, device=args.device, plots=False)
    per_class = {
        metrics.names[int(c)]: round(float(ap50), 4)
        for c, ap50 in zip(metrics.box.ap_class_index, metrics.box.ap50, strict=True)
    }
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, args.out / "citybrain-yolov8n.pt")
    report = {
        "architecture": "YOLOv8n (ultralytics), trained from scratch",
        "data": {
            "train_frames": args.train,
            "val_frames": args.val,
            "seed": args.seed,
            "render_s": round(t_data, 1),
        },
        "recipe": {
            "epochs": args.epochs,
            "imgsz": args.imgsz,
            "batch": args.batch,
            "device": args.device,
            "train_s": round(t_train, 1),
        },
        "val": {
            "map50": round(float(metrics.box.map50), 4),
            "map50_95": round(float(metrics.box.map), 4),
            "ap50_per_class": per_class,
        },
    }
    (args.out / "citybrain-yolov8n.metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if args.clip:
        train_clip()


def train_clip() -> None:
    """tools/train_demo_clip.py with its own defaults (run it directly to change them)."""
    import runpy
    import sys

    sys.argv = [str(ROOT / "tools" / "train_demo_clip.py")]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
