"""Frames/s of JPEG decode + the vision stage's detector at several batch sizes.

    python tools/bench/detector_batches.py --device 0 --model models/demo/citybrain-yolov5n-city.pt

Decode is OpenCV on one CPU core; inference is ultralytics' own predict path, kept as the
reference `Detector` (its letterbox, forward, NMS). The baseline is batch 1 on the
same device in the same run; the table reports each batch size's speed-up over it.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from citybrain.city_loading import load_all
from citybrain.sim.stream import FrameRecord, iter_records
from citybrain.vision.detector import Detector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", type=Path, default=Path("models/demo/citybrain-yolov5n-city.pt"))
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--batches", default="1,16,64")
    args = ap.parse_args()
    settings, city = load_all()
    sim = settings.simulator.model_copy(update={"duration_s": 24 * 3600, "frame_interval_s": 60})
    jpegs = []
    for rec in iter_records(city, sim, datetime(2026, 11, 22, tzinfo=UTC)):
        if isinstance(rec, FrameRecord):
            jpegs.append(rec.jpeg)
            if len(jpegs) >= args.frames:
                break
    t0 = time.perf_counter()
    decoded = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    images = [i for i in decoded if i is not None]
    decode_fps = len(images) / (time.perf_counter() - t0)
    rows = []
    base = None
    for b in (int(x) for x in args.batches.split(",")):
        vs = settings.vision.model_copy(
            update={
                "model": args.model,
                "device": args.device,
                "batch_size": b,
                "imgsz": args.imgsz,
            }
        )
        det = Detector.load(vs)
        det.detect(images[: max(b, 8)])  # warm-up: first call builds and moves the model
        t0 = time.perf_counter()
        found = det.detect(images)
        fps = len(images) / (time.perf_counter() - t0)
        base = base or fps
        rows.append((b, fps, fps / base, sum(len(d) for d in found) / len(images)))
    print(
        f"\ndevice {args.device}, model {args.model}, imgsz {args.imgsz}, {len(images)} frames "
        f"of {images[0].shape[1]}x{images[0].shape[0]}; JPEG decode {decode_fps:.0f} frames/s on one core\n"
    )
    print("| batch | detector frames/s | vs batch 1 | detections/frame |")
    print("| ---: | ---: | ---: | ---: |")
    for b, fps, ratio, per in rows:
        print(f"| {b} | {fps:.0f} | {ratio:.2f}x | {per:.2f} |")


if __name__ == "__main__":
    main()
