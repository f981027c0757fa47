"""The camera gateway's costs, on H.264 clips rendered from the synthetic city.

    python tools/bench/camera_gateway.py              # ~2 min on 2 cores

1. Decoding: how many camera streams one core can decode and sample at 1 fps, for 720p and
   1080p H.264 at 25 fps and a camera's bitrate (2 and 4 Mbit/s). The gateway's reader path
   (PyAV decode of every frame, single-threaded; at each sampled frame the luma plane,
   frame_stats, the motion gate and, for the frames it sends, BGR + JPEG) is timed in CPU
   seconds of this process; streams per core = clip seconds / CPU seconds. In the same run:
   decoding alone (the floor any reader pays) and the same path with every sample sent
   (gating off), as ratios.
2. Motion gating: the share of sampled frames (1 fps) the gate sends to the detector on mostly
   static street clips (traffic, sensor grain; one event appears and stays for a tenth of the
   clip),
   and the share of the frames that show an event it keeps. Gating off sends 100 %.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np

from citybrain.city_loading import load_all
from citybrain.config.cameras import MotionGateSettings
from citybrain.core.city import Camera
from citybrain.core.frame_stats import frame_stats
from citybrain.core.motion_gate import GateReason, MotionGate
from citybrain.sim.clips import event, street_frames, write_video

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
SIZES = {"720p": ((1280, 720), "2M"), "1080p": ((1920, 1080), "4M")}
EVENTS = ("pothole", "overflowing_bin", "flooding", "fallen_tree", "illegal_parking")


def decode_cost(path: Path, mode: str) -> tuple[float, float]:
    """(clip seconds, CPU seconds) to read the clip the way `mode` says, on one thread."""
    gate = MotionGate(MotionGateSettings(), enabled=mode != "ungated")
    cpu = time.process_time()
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.codec_context.thread_count = 1
        stream.thread_type = "SLICE"
        next_sample, last = 0.0, 0.0
        for frame in c.decode(stream):
            t = float(frame.time or 0.0)
            last = t
            if mode == "decode" or t < next_sample:
                continue
            next_sample += 1.0
            stats = frame_stats(frame.to_ndarray(format="gray"))
            if gate.decide(stats.thumb, t).send:
                bgr = frame.to_ndarray(format="bgr24")
                cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return last + 1 / 25, time.process_time() - cpu


def decoding(cam: Camera, seconds: float, work: Path) -> None:
    print(f"\n## Decoding and sampling at 1 fps ({seconds:g} s clips at 25 fps, one thread)\n")
    print("| stream | bitrate | mode | CPU s per clip s | streams per core | vs decode alone |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name, (size, rate) in SIZES.items():
        frames = (f for f, _ in street_frames(cam, T0, seconds, 25, size, seed=5))
        clip = write_video(frames, work / f"{name}.mp4", 25, bitrate=rate)
        costs = {}
        for mode in ("decode", "gated", "ungated"):
            span, cpu = min((decode_cost(clip, mode) for _ in range(2)), key=lambda x: x[1])
            costs[mode] = cpu / span
        for mode, label in (
            ("decode", "decode only"),
            ("gated", "gateway (gated)"),
            ("ungated", "gateway (gating off)"),
        ):
            per = costs[mode]
            print(
                f"| {name} H.264 | {rate}bit/s | {label} | {per:.3f} | {1 / per:.1f} | "
                f"{costs['decode'] / per:.2f} |"
            )


def gating(cams: list[Camera], minutes: float, work: Path) -> None:
    print(f"\n## Motion gating ({len(cams)} cameras × {minutes:g} min at 1 fps, 640×360)\n")
    print(
        "| camera | event | sampled | sent | sent share | quiet frames sent | event frames "
        "| kept | kept share |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    tot = np.zeros(4, dtype=np.int64)
    seconds = minutes * 60
    for i, cam in enumerate(cams):
        cats = (EVENTS[i % len(EVENTS)],)
        evs = [event(cam, cats[0], T0 + timedelta(seconds=seconds * 0.4), seconds * 0.1)]
        pairs = list(street_frames(cam, T0, seconds, 1.0, events=evs, seed=i))
        clip = write_video((f for f, _ in pairs), work / f"gate-{cam.id}.mp4", 1.0)
        gate = MotionGate(MotionGateSettings())
        sent: list[bool] = []
        with av.open(str(clip)) as c:
            for n, frame in enumerate(c.decode(c.streams.video[0])):
                stats = frame_stats(frame.to_ndarray(format="gray"))
                sent.append(gate.decide(stats.thumb, float(n)).reason is not GateReason.QUIET)
        shows = [s for _, s in pairs][: len(sent)]
        ev = sum(shows)
        kept = sum(1 for s, e in zip(sent, shows, strict=True) if s and e)
        row = np.array([len(sent), sum(sent), ev, kept])
        tot += row
        print(_row(cam.id, cats[0], row))
    print(_row("all", "", tot))


def _row(name: str, what: str, r: np.ndarray) -> str:
    sampled, sent, ev, kept = (int(x) for x in r)
    quiet = (sent - kept) / (sampled - ev)
    return (
        f"| {name} | {what} | {sampled} | {sent} | {sent / sampled:.1%} | {quiet:.1%} | {ev} "
        f"| {kept} | {kept / ev:.1%} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--decode-seconds", type=float, default=20.0)
    ap.add_argument("--gate-cameras", type=int, default=4)
    ap.add_argument("--gate-minutes", type=float, default=10.0)
    args = ap.parse_args()
    _settings, city = load_all(Path("config/citybrain.yaml"))
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        gating(list(city.cameras[: args.gate_cameras]), args.gate_minutes, work)
        decoding(city.cameras[0], args.decode_seconds, work)


if __name__ == "__main__":
    main()
