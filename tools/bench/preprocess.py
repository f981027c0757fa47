"""Numba preprocessing vs the OpenCV + NumPy baseline, on the same frames in one run.

    python tools/bench/preprocess.py                 # 1080p and 720p, batch 1/16/64, ~1 min

Both fill the same [N, 3, S, S] batch buffer from decoded BGR frames (decode is not timed: it
is the same for both): the numba kernel in one call per batch, the baseline frame by frame
(`citybrain/vision/preprocess_ref.py`: cv2.resize + copyMakeBorder, then one NumPy pass that
reorders to RGB CHW, casts and scales). "1 core" sets numba's threads and OpenCV's threads to
1; "all cores" leaves both at the machine's count. Each cell is the best of several repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import cv2
import numba
import numpy as np

from citybrain.vision.preprocess import make_buffer, preprocess_clip, preprocess_yolo
from citybrain.vision.preprocess_ref import clip_ref, letterbox_ref

SIZES = {"1080p": (1080, 1920), "720p": (720, 1280)}


def frames(h: int, w: int, n: int) -> list[np.ndarray]:
    """Camera-like content (smooth with detail), distinct arrays so caches do not flatter."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)
    return [np.roll(base, i * 7, axis=1) for i in range(n)]


def best(fn: Callable[[], object], budget_s: float, min_runs: int = 3) -> float:
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 50:
            break
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,16,64")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--budget", type=float, default=0.3, help="seconds of repeats per cell")
    ap.add_argument("--dtypes", default="float32,float16,uint8")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    cores = os.cpu_count() or 1
    pool = {name: frames(h, w, max(batches)) for name, (h, w) in SIZES.items()}
    for dtype in args.dtypes.split(","):  # compile every specialisation before timing
        preprocess_yolo(pool["720p"][:1], make_buffer(1, 32, dtype))
    preprocess_clip(pool["720p"][:1], make_buffer(1, 32))

    rows = []
    for threads in (1, cores):
        numba.set_num_threads(threads)
        cv2.setNumThreads(threads)
        for name, pool_frames in pool.items():
            for dtype in args.dtypes.split(","):
                for b in batches:
                    imgs = pool_frames[:b]
                    buf = make_buffer(b, args.imgsz, dtype)
                    t_nb = best(lambda: preprocess_yolo(imgs, buf), args.budget)  # noqa: B023
                    t_cv = best(lambda: letterbox_ref(imgs, buf), args.budget)  # noqa: B023
                    rows.append((threads, name, f"letterbox {dtype}", b, t_nb, t_cv))
            for b in batches:
                imgs = pool_frames[:b]
                buf = make_buffer(b, 224)
                t_nb = best(lambda: preprocess_clip(imgs, buf), args.budget)  # noqa: B023
                t_cv = best(lambda: clip_ref(imgs, buf), args.budget)  # noqa: B023
                rows.append((threads, name, "clip crop float32", b, t_nb, t_cv))

    print(
        f"\nimgsz {args.imgsz} (CLIP 224), {cores} cores, numba {numba.__version__}, "
        f"OpenCV {cv2.__version__}\n"
    )
    print("| threads | input | output | batch | numba frames/s | OpenCV+NumPy frames/s | ratio |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for threads, name, what, b, t_nb, t_cv in rows:
        print(
            f"| {threads} | {name} | {what} | {b} | {b / t_nb:,.0f} | {b / t_cv:,.0f} "
            f"| {t_cv / t_nb:.2f}x |"
        )


if __name__ == "__main__":
    main()
