"""Train the shipped detector on real photos plus synthetic-city frames, from COCO-pretrained
YOLOv5n; with `--clip` the CLIP-style scene model after it (tools/train_demo_clip.py).

Steps, each resumable (a finished step is not redone; `--fresh` starts over):

1. real photos: the labelled sets under ../shared/datasets (garbage, fire_smoke, pothole),
   classes mapped by config/datasets/*.yaml, a fixed 15 % validation split by file-name hash;
2. pseudo-labels: the COCO detector itself (the anchor head of the same checkpoint) marks
   people and vehicles on those photos, kept at confidence >= --pseudo-conf, so the detector
   does not learn that a car beside a bin is background;
3. synthetic-city frames rendered with their labels (the demo's own classes);
4. training: ultralytics YOLOv5n (anchor-free head) with backbone and neck initialised from
   the COCO checkpoint, the backbone frozen (`--freeze`), small input; `last.pt` after every
   epoch, so `--resume` carries on after an interruption;
5. the weights (optimizer stripped) and a metrics file under models/demo/.

    nice python tools/train_demo_models.py --epochs 12 --imgsz 320 --device cpu
    nice python tools/train_demo_models.py --resume      # after an interruption

The held-out figures for the model card come from `citybrain eval detections` on the same
validation split (models/demo/README.md has the commands).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MAPS = ROOT / "config" / "datasets"  # one class map per real photo set
MODEL_YAML = ROOT / "models" / "demo" / "citybrain-yolov5n-city.yaml"
COCO = SHARED / "weights" / "yolov5n-coco.pt"
WEIGHTS = (
    "citybrain-yolov5n-city.pt"  # not `...yolov5n.pt`: ultralytics reads that as its own v5 release
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--synthetic-train", type=int, default=500, help="synthetic frames to train on")
    ap.add_argument("--synthetic-val", type=int, default=150, help="synthetic validation frames")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument(
        "--freeze", type=int, default=10, help="first layers kept frozen (10: backbone)"
    )
    ap.add_argument("--pseudo-conf", type=float, default=0.30)
    ap.add_argument("--device", default="cpu", help="cpu, 0, 0,1 ...")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "train")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these ultralytics weights instead of the COCO start (a second stage, "
        "e.g. --init models/demo/citybrain-yolov5n-city.pt --freeze 0)",
    )
    ap.add_argument("--lr0", type=float, default=None, help="initial learning rate (SGD)")
    ap.add_argument("--name", default="detector", help="run folder under WORK/runs")
    ap.add_argument("--resume", action="store_true", help="continue the last run's training")
    ap.add_argument("--fresh", action="store_true", help="rebuild the data and start over")
    ap.add_argument("--clip", action="store_true", help="then train the CLIP model")
    args = ap.parse_args()

    from citybrain.vision.detector import prepare_ultralytics_offline

    prepare_ultralytics_offline(args.work / "ultralytics")
    for need in [COCO, *(SHARED / "datasets" / m.stem / "data.yaml" for m in MAPS.glob("*.yaml"))]:
        if not need.exists():
            raise SystemExit(f"{need} is missing: the real training data lives in ../shared/")
    names = yaml.safe_load(MODEL_YAML.read_text())["names"]
    data_yaml = args.work / "dataset" / "data.yaml"
    if args.fresh or not data_yaml.exists():
        t0 = time.time()
        report = build_dataset(args, names)
        report["build_s"] = round(time.time() - t0, 1)
        (args.work / "dataset" / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2), flush=True)

    t0 = time.time()
    last = train(args, data_yaml)
    t_train = time.time() - t0
    publish(args, last, t_train)
    if args.clip:
        import runpy
        import sys

        sys.argv = [str(ROOT / "tools" / "train_demo_clip.py")]
        runpy.run_path(sys.argv[0], run_name="__main__")


def build_dataset(args: argparse.Namespace, names: list[str]) -> dict[str, object]:
    """Real photos (with pseudo-labels) and synthetic frames in one ultralytics dataset."""
    import shutil

    from citybrain.city_loading import load_all
    from citybrain.sim.dataset import write_yolo_dataset
    from citybrain.vision.pseudo_labels import PseudoLabeller
    from citybrain.vision.training_data import (
        BuildReport,
        read_source,
        real_sources,
        split_of,
        with_extra_boxes,
        write_item,
    )

    out = args.work / "dataset"
    if out.exists():
        shutil.rmtree(out)
    index = {n: i for i, n in enumerate(names)}
    report = BuildReport()
    labeller = PseudoLabeller.load(
        COCO, names, min_conf=args.pseudo_conf, config_dir=args.work / "ultralytics"
    )
    pseudo = Counter[str]()
    for src in real_sources(SHARED / "datasets", MAPS, names):
        name = src.name
        items = list(read_source(src, report))
        for start in range(0, len(items), 16):
            chunk = items[start : start + 16]
            for item, (classes, boxes) in zip(
                chunk, labeller.label([i.image for i in chunk]), strict=True
            ):
                split = split_of(item.image.name)
                pseudo.update(f"{split}/{c}" for c in classes)
                full = with_extra_boxes(item, classes, boxes)
                write_item(out, split, f"{name}_{item.image.stem}", full, index)
                report.images[f"{name}/{split}"] += 1
                report.boxes.update(f"{split}/{c}" for c in full.classes)
        print(f"{name}: {len(items)} images", flush=True)

    # The synthetic city's frames, rendered into their own folder, then linked beside the photos.
    _, city = load_all(ROOT / "config" / "citybrain.yaml")
    synth = args.work / "synthetic"
    write_yolo_dataset(
        city, synth, args.synthetic_train, args.synthetic_val, args.seed, model_yaml=MODEL_YAML
    )
    for split in ("train", "val"):
        for img in sorted((synth / "images" / split).glob("*.jpg")):
            lbl = synth / "labels" / split / f"{img.stem}.txt"
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            os.symlink(img.resolve(), out / "images" / split / f"synthetic_{img.name}")
            (out / "labels" / split / f"synthetic_{img.stem}.txt").write_text(lbl.read_text())
            report.images[f"synthetic/{split}"] += 1
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(names)),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return {
        **report.as_dict(),
        "pseudo_labels": dict(sorted(pseudo.items())),
        "pseudo_conf": args.pseudo_conf,
    }


def start_checkpoint(work: Path, names: list[str]) -> Path:
    """An ultralytics checkpoint of YOLOv5n with our classes whose backbone and neck are the
    COCO weights (the anchor-free head starts untrained): what `train` fine-tunes."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from citybrain.vision.yolov5_anchor import backbone_state

    torch.manual_seed(0)
    model = DetectionModel(str(MODEL_YAML), nc=len(names), verbose=False)
    missing, _ = model.load_state_dict(backbone_state(COCO), strict=False)
    head = len(model.model) - 1  # type: ignore[arg-type]  # an nn.Sequential of layers
    if any(not k.startswith(f"model.{head}.") for k in missing):
        raise SystemExit(f"the COCO checkpoint does not fit {MODEL_YAML}: missing {missing[:5]}")
    model.names = dict(enumerate(names))
    path = work / "start-yolov5n-coco.pt"
    torch.save({"model": model, "train_args": {}, "epoch": -1}, path)
    return path


def train(args: argparse.Namespace, data_yaml: Path) -> Path:
    from ultralytics import YOLO

    run = args.work / "runs" / args.name
    last = run / "weights" / "last.pt"
    if args.resume and last.exists():
        YOLO(str(last)).train(resume=True)
        return last
    names = yaml.safe_load(MODEL_YAML.read_text())["names"]
    start = args.init or start_checkpoint(args.work, names)
    extra = {"optimizer": "SGD", "lr0": args.lr0, "warmup_epochs": 0} if args.lr0 else {}
    YOLO(str(start), task="detect").train(
        data=str(data_yaml),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        freeze=args.freeze,
        cache="ram",
        val=False,  # validated once at the end (and by `citybrain eval detections`)
        close_mosaic=max(1, args.epochs // 4),
        project=str(args.work / "runs"),
        name=args.name,
        exist_ok=True,
        seed=args.seed,
        deterministic=True,
        amp=False,  # the AMP self-check wants to download a reference model
        plots=False,
        verbose=True,
        **extra,
    )
    return last


def publish(args: argparse.Namespace, last: Path, train_s: float) -> None:
    """The trained weights without optimizer state, and the recipe beside them (a second
    stage's recipe lists the first's under `earlier_stages`)."""
    import shutil

    from ultralytics.utils.torch_utils import strip_optimizer

    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / WEIGHTS
    shutil.copy(last, target)
    strip_optimizer(str(target))
    data_report = json.loads((args.work / "dataset" / "report.json").read_text())
    previous = args.out / "citybrain-yolov5n-city.recipe.json"
    stages: list[dict[str, object]] = []
    if args.init and previous.exists():
        old = json.loads(previous.read_text())
        stages = [*old.pop("earlier_stages", []), old["recipe"]]
    recipe = {
        "architecture": "YOLOv5n (ultralytics, anchor-free head), backbone and neck from COCO YOLOv5n v6.1",
        "data": data_report,
        "recipe": {
            "epochs": args.epochs,
            "imgsz": args.imgsz,
            "batch": args.batch,
            "freeze": args.freeze,
            "device": args.device,
            "train_s": round(train_s, 1),
            "init": str(args.init) if args.init else "COCO YOLOv5n backbone and neck",
            "lr0": args.lr0,
        },
        "earlier_stages": stages,
    }
    (args.out / "citybrain-yolov5n-city.recipe.json").write_text(
        json.dumps(recipe, indent=2) + "\n"
    )
    print(json.dumps(recipe, indent=2))


if __name__ == "__main__":
    main()
