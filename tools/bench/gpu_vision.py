"""Frames/s of the vision runtime on a GPU: JPEG decode (nvJPEG) + letterbox (torch on the
device) + YOLO + CLIP image tower, by batch size, printed as a markdown table.

    python tools/bench/gpu_vision.py                         # CUDA, 1080p, batches 1..256
    python tools/bench/gpu_vision.py --markdown docs/BENCHMARKS.md   # ... and write the table
    python tools/bench/gpu_vision.py --device cpu --quick    # smoke run on any machine

The detector is the project's YOLOv8n architecture (models/demo/, trained weights if present,
else the YAML seeded); CLIP is open_clip's ViT-B/32 image tower, untrained (architecture and
cost are what matter). fp16 on CUDA. Decode + preprocess use the same preparers as the vision
job (`citybrain/vision/prepare.py`); on the CPU that is OpenCV + the numba kernel. Each stage
is timed on its own and the whole chain end to end, after a warm-up batch. The CLIP input is
the letterbox resized to 224 (the GPU preparer makes no CLIP crop yet): the tower's cost, not
the pipeline's exact input. `--markdown FILE` replaces the section between the
`<!-- gpu_vision -->` markers of FILE with this run's table.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from citybrain.config.vision import VisionSettings
from citybrain.vision.backends.local import LocalBackend, load_detector
from citybrain.vision.prepare import CpuPreparer, CudaPreparer, FramePreparer


def make_jpegs(n: int, w: int, h: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)
    out = []
    for i in range(n):
        ok, buf = cv2.imencode(
            ".jpg", np.roll(base, i * 13, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        assert ok
        out.append(buf.tobytes())
    return out


def timed(fn: Callable[[], object], sync: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - t) / repeats


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float, float]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny frames and batches: a smoke run")
    ap.add_argument("--batches", default="1,8,32,64,128,256")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None, help="write the table into this file")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.quick:
        args.batches, args.width, args.height, args.imgsz, args.repeats = "1,2", 320, 180, 64, 1
    batches = [int(b) for b in args.batches.split(",")]
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    model = args.model or next(
        p
        for p in (
            Path("models/demo/citybrain-yolov5n-city.pt"),
            Path("models/demo/citybrain-yolov8n.yaml"),
        )
        if p.exists()
    )
    settings = VisionSettings(
        model=model,
        imgsz=args.imgsz,
        batch_size=max(batches),
        buffer_dtype="float16" if cuda else "float32",
        preprocess_device="cuda" if cuda else "cpu",
    )
    detector, _ = load_detector(model, trust_pickle=True)  # this project's demo weights
    yolo = LocalBackend({"detector": detector}, device=args.device, half=cuda)
    import open_clip

    clip = open_clip.create_model("ViT-B-32", pretrained=None).visual
    clip_backend = LocalBackend({"clip_image": clip}, device=args.device, half=cuda)
    preparer: FramePreparer = CudaPreparer(settings) if cuda else CpuPreparer(settings)
    jpegs = make_jpegs(max(batches), args.width, args.height)

    rows = []
    for b in batches:
        batch = jpegs[:b]
        prepared = preparer.prepare(batch)
        images = prepared.images
        clip_in = torch.nn.functional.interpolate(
            torch.as_tensor(images).float(), size=(224, 224), mode="bilinear"
        )

        def detect(images: object = images) -> object:
            return yolo.infer("detector", {"images": images})  # type: ignore[dict-item]

        def embed(clip_in: torch.Tensor = clip_in) -> object:
            return clip_backend.infer("clip_image", {"images": clip_in})

        def chain(batch: list[bytes] = batch) -> object:
            p = preparer.prepare(batch)
            yolo.infer("detector", {"images": p.images})  # type: ignore[dict-item]
            x = torch.nn.functional.interpolate(
                torch.as_tensor(p.images).float(), size=(224, 224), mode="bilinear"
            )
            return clip_backend.infer("clip_image", {"images": x})

        t_prep = timed(partial(preparer.prepare, batch), sync, args.repeats)
        t_yolo = timed(detect, sync, args.repeats)
        t_clip = timed(embed, sync, args.repeats)
        t_all = timed(chain, sync, args.repeats)
        rows.append((b, b / t_prep, b / t_yolo, b / t_clip, b / t_all))

    name = torch.cuda.get_device_name() if cuda else f"CPU ({os.cpu_count()} cores)"
    lines = [
        f"{name}, torch {torch.__version__}, {args.width}x{args.height} JPEG, "
        f"YOLO {model.name} at {args.imgsz}, CLIP ViT-B/32 at 224, {'fp16' if cuda else 'fp32'}",
        "",
        "| batch | decode + letterbox frames/s | YOLO frames/s | CLIP frames/s | all frames/s |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(f"| {b} | {p:,.0f} | {y:,.0f} | {c:,.0f} | {a:,.0f} |" for b, p, y, c, a in rows),
    ]
    print("\n" + "\n".join(lines))
    if args.markdown is not None:
        write_section(args.markdown, "gpu_vision", "\n".join(lines))
    return rows


def write_section(path: Path, marker: str, body: str) -> None:
    """Replace the text between `<!-- marker -->` and `<!-- /marker -->` (appended if absent)."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
