"""The camera gateway's costs, on H.264 clips rendered from the synthetic city.

    python tools/bench/camera_gateway.py              # ~4 min on 2 cores
    python tools/bench/camera_gateway.py --gate-cameras 0 --decode-seconds 0   # faults only

1. Decoding: how many camera streams one core can decode and sample at 1 fps, for 720p and
   1080p H.264 at 25 fps and a camera's bitrate (2 and 4 Mbit/s). The gateway's reader path
   (PyAV decode of every frame, single-threaded; at each sampled frame the luma plane,
   frame_stats, the motion gate and, for the frames it sends, BGR + JPEG) is timed in CPU
   seconds of this process; streams per core = clip seconds / CPU seconds. In the same run:
   decoding alone (the floor any reader pays) and the same path with every sample sent
   (gating off), as ratios.
3. Faults, with the default settings, against a real RTSP server (tools/rtsp_server.py) and the
   embedded broker: how long after the server is killed the camera is reported offline, how
   long after it returns the camera is online again, and how many samples a second camera
   delivers meanwhile (a stalled camera must not hold up another). `--faults 0` skips it.
2. Motion gating: the share of sampled frames (1 fps) the gate sends to the detector on mostly
   static street clips (traffic, sensor grain; one event appears and stays for a tenth of the
   clip),
   and the share of the frames that show an event it keeps. Gating off sends 100 %.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
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


class _Server:
    def __init__(self, clip: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.clip = clip
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> float:
        script = Path(__file__).resolve().parents[1] / "rtsp_server.py"
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(script), str(self.port), str(self.clip)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return time.monotonic()

    def stop(self) -> float:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic()


def _until(what: Callable[[], bool], timeout_s: float) -> float:
    began = time.monotonic()
    while not what():
        if time.monotonic() - began > timeout_s:
            return float("nan")
        time.sleep(0.05)
    return time.monotonic()


def faults(cams: list[Camera], trials: int, work: Path) -> None:
    from citybrain.cameras.gateway import Gateway, Plan
    from citybrain.cameras.source import StreamSource
    from citybrain.config.cameras import CameraGatewaySettings
    from citybrain.config.kafka import BrokerSettings, KafkaSettings
    from citybrain.core.camera_health import HealthState
    from citybrain.streams.broker import EmbeddedBroker
    from citybrain.streams.counters import CameraCounter, CameraStat
    from citybrain.streams.kafka_io import make_producer
    from citybrain.streams.topics import Topics, ensure_topics

    s = CameraGatewaySettings()
    print(
        f"\n## Faults with the default settings (offline_after_s {s.health.offline_after_s:g}, "
        f"read_timeout_s {s.read_timeout_s:g}, retry_max_s {s.retry_max_s:g})\n"
    )
    print("| trial | killed → offline (s) | back → online (s) | other camera's samples meanwhile |")
    print("| ---: | ---: | ---: | ---: |")
    seconds = 40.0 * trials + 20
    clips = [
        write_video(
            (f for f, _ in street_frames(c, T0, seconds, 10, (640, 360), seed=i)),
            work / f"fault-{c.id}.mp4",
            10,
        )
        for i, c in enumerate(cams[:2])
    ]
    servers = [_Server(c) for c in clips]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with EmbeddedBroker(BrokerSettings(port=port)) as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, topic_prefix="benchcam")
        ensure_topics(kafka)
        plans = [
            Plan(
                c.model_copy(update={"stream": f"rtsp://127.0.0.1:{srv.port}/cam"}),
                StreamSource(c.id, f"rtsp://127.0.0.1:{srv.port}/cam"),
            )
            for c, srv in zip(cams[:2], servers, strict=True)
        ]
        gw = Gateway(plans, s, make_producer(kafka), Topics("benchcam"), max_pixels=1 << 30)
        stop = threading.Event()
        for srv in servers:
            srv.start()
        runner = threading.Thread(target=gw.run, args=(stop,), daemon=True)
        runner.start()
        victim, other = cams[0].id, cams[1].id
        other_key = CameraCounter(other, CameraStat.SAMPLED).key

        def state() -> HealthState | None:
            mine = [c.state for c in list(gw.changes) if c.camera == victim]
            return mine[-1] if mine else None

        try:
            _until(lambda: gw.stats[CameraCounter(victim, CameraStat.SAMPLED).key] > 5, 20)
            for n in range(1, trials + 1):
                killed = servers[0].stop()
                before = gw.stats[other_key]
                offline = _until(lambda: state() is HealthState.OFFLINE, 60) - killed
                meanwhile = gw.stats[other_key] - before
                back = servers[0].start()
                online = _until(lambda: state() is HealthState.ONLINE, 60) - back
                print(f"| {n} | {offline:.1f} | {online:.1f} | {meanwhile} |")
                time.sleep(3)
        finally:
            stop.set()
            runner.join(20)
            for srv in servers:
                srv.stop()
            gw.producer.close(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--decode-seconds", type=float, default=20.0)
    ap.add_argument("--gate-cameras", type=int, default=4)
    ap.add_argument("--gate-minutes", type=float, default=10.0)
    ap.add_argument("--faults", type=int, default=2, help="Kill-and-restart trials (0: none)")
    args = ap.parse_args()
    _settings, city = load_all(Path("config/citybrain.yaml"))
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        if args.gate_cameras:
            gating(list(city.cameras[: args.gate_cameras]), args.gate_minutes, work)
        if args.decode_seconds:
            decoding(city.cameras[0], args.decode_seconds, work)
        if args.faults:
            faults(list(city.cameras), args.faults, work)


if __name__ == "__main__":
    main()
