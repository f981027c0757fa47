"""The camera gateway against real streams: H.264 clips the suite renders from the synthetic
city, served by a real RTSP server on loopback (GStreamer's rtsp-server, tools/rtsp_server.py)
and read from files, with the frames produced to the real broker.

Frames arrive with the simulator's headers; a killed server is reported offline and the
camera reconnects when it returns; a frozen stream is reported frozen, a covered lens
covered; a password with special characters works and never shows in a log line or alert;
a camera that never answers, a 0-byte file and a resolution change mid-way give a clear
status and no crash.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from citybrain.cameras.gateway import Gateway, Plan
from citybrain.cameras.source import StreamSource
from citybrain.config import Settings
from citybrain.config.cameras import (
    CameraGatewaySettings,
    CameraHealthSettings,
    MotionGateSettings,
)
from citybrain.core.camera_health import HealthState
from citybrain.core.city import City
from citybrain.core.messages import FRAME_HEADERS, CameraHealthAlert, FrameMeta
from citybrain.sim.clips import covered_after, frozen_after, street_frames, write_video
from citybrain.store import Store
from citybrain.streams.counters import CameraCounter, CameraStat
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics
from tests.integration.conftest import free_port, read_topic

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
FPS = 10
SIZE = (320, 180)
PASSWORD = "p@ss:w/rd %?#&'\"é"  # every character a URL or a shell cares about


def _rtsp_server_missing() -> str | None:
    if shutil.which("ffmpeg") is None:
        return "Debian's ffmpeg is not installed (make venv installs it)"
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import GstRtspServer"
    )
    try:
        ok = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0
    except OSError:
        ok = False
    return None if ok else "GStreamer's RTSP server is not installed (make venv installs it)"


MISSING = _rtsp_server_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

FAST = CameraGatewaySettings(
    sample_fps=4,
    open_timeout_s=3,
    read_timeout_s=2,
    retry_initial_s=0.2,
    retry_max_s=1.0,
    stats_every_s=0.5,
    motion=MotionGateSettings(warmup_frames=3, heartbeat_s=2),
    health=CameraHealthSettings(offline_after_s=4, frozen_s=1.5, covered_s=1.0),
)


@pytest.fixture(scope="module")
def clips(city: City, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Rendered street clips: live traffic, one that freezes, one whose lens gets covered."""
    d = tmp_path_factory.mktemp("clips")
    cam = city.cameras[0]

    def clip(name: str, seconds: float, fault: Callable[[np.ndarray, int], np.ndarray] | None):
        frames = (f for f, _ in street_frames(cam, T0, seconds, FPS, SIZE, seed=3, fault=fault))
        return write_video(frames, d / f"{name}.mp4", FPS)

    return {
        "street": clip("street", 30, None),
        "frozen": clip("frozen", 12, frozen_after(2 * FPS)),
        "covered": clip("covered", 12, covered_after(2 * FPS)),
    }


class RtspServer:
    """tools/rtsp_server.py in a child process; stop() kills it, start() brings it back."""

    def __init__(self, clip: Path, auth: tuple[str, str] | None = None) -> None:
        self.clip, self.auth, self.port = clip, auth, free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> None:
        args = [SYSTEM_PYTHON, str(ROOT / "tools" / "rtsp_server.py"), str(self.port)]
        args += [str(self.clip), *(self.auth or ())]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "ready", f"RTSP server did not start: {line!r}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@contextlib.contextmanager
def serving(*servers: RtspServer) -> Iterator[None]:
    try:
        for s in servers:
            s.start()
        yield
    finally:
        for s in servers:
            s.stop()


def gateway(
    live_settings: Settings,
    city: City,
    streams: dict[str, str],
    settings: CameraGatewaySettings = FAST,
    credentials: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    max_pixels: int | None = None,
) -> Gateway:
    plans = []
    for i, (cid, stream) in enumerate(streams.items()):
        cam = city.cameras[i].model_copy(update={"id": cid, "stream": stream})
        cred = (credentials or {}).get(cid)
        src = StreamSource(cid, stream, cred, "TEST_CAMERA_", environ or {})
        plans.append(Plan(cam, src))
    return Gateway(
        plans,
        settings,
        make_producer(live_settings.kafka),
        Topics(live_settings.kafka.topic_prefix),
        max_pixels=max_pixels or live_settings.vision.max_frame_pixels,
    )


@contextlib.contextmanager
def running(gw: Gateway) -> Iterator[Gateway]:
    stop = threading.Event()
    t = threading.Thread(target=gw.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield gw
    finally:
        stop.set()
        t.join(15)
        gw.producer.close(5)


def wait_for(what: Callable[[], object], timeout_s: float) -> float:
    """Seconds it took until what() was true (fails after timeout_s)."""
    began = time.monotonic()
    while not what():
        if time.monotonic() - began > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - began


def states(gw: Gateway, cid: str) -> list[HealthState]:
    return [c.state for c in list(gw.changes) if c.camera == cid]


def test_rtsp_frames_health_offline_and_reconnect(
    live_settings: Settings, city: City, clips: dict[str, Path]
) -> None:
    street, frozen, covered = (RtspServer(clips[k]) for k in ("street", "frozen", "covered"))
    gw = gateway(
        live_settings,
        city,
        {"street": street.url, "frozen": frozen.url, "covered": covered.url},
    )
    with serving(street, frozen, covered), running(gw):
        sent = CameraCounter("street", CameraStat.SENT).key
        wait_for(lambda: gw.stats[sent] >= 3, 15)
        wait_for(lambda: HealthState.FROZEN in states(gw, "frozen"), 12)
        wait_for(lambda: HealthState.COVERED in states(gw, "covered"), 12)
        assert states(gw, "street") == []  # a healthy street says nothing

        street.stop()
        killed = time.monotonic()
        offline_s = wait_for(lambda: HealthState.OFFLINE in states(gw, "street"), 30)
        street.start()
        back = time.monotonic()
        reconnect_s = wait_for(lambda: states(gw, "street")[-1] is HealthState.ONLINE, 10)
    assert offline_s <= FAST.health.offline_after_s + FAST.read_timeout_s + 1
    assert killed < back and reconnect_s <= 10

    records = [r for r in read_topic(live_settings.kafka.bootstrap_servers, gw.topics.frames)]
    by_cam: dict[str, list[FrameMeta]] = {}
    for r in records:
        headers = {k: v.decode() for k, v in r.headers}
        assert tuple(headers) == FRAME_HEADERS  # the simulator's headers, in its order
        meta = FrameMeta.model_validate(headers)
        assert r.key.decode() == meta.camera_id
        img = cv2.imdecode(np.frombuffer(r.value, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and (img.shape[1], img.shape[0]) == (meta.width, meta.height)
        by_cam.setdefault(meta.camera_id, []).append(meta)
    assert set(by_cam) == {"street", "frozen", "covered"}
    seqs = [m.seq for m in by_cam["street"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert (by_cam["street"][0].width, by_cam["street"][0].height) == SIZE
    # the gate held some samples back
    assert gw.stats["gated"] > 0 and gw.stats["sent"] < gw.stats["sampled"]

    alerts = [
        CameraHealthAlert.model_validate_json(r.value)  # the published contract
        for r in read_topic(live_settings.kafka.bootstrap_servers, gw.topics.alerts)
    ]
    kinds = {(a.camera, a.state) for a in alerts}
    assert {("frozen", "frozen"), ("covered", "covered"), ("street", "offline")} <= kinds
    assert ("street", "online") in kinds


@contextlib.contextmanager
def http_serving(folder: Path) -> Iterator[str]:
    """A plain HTTP server on loopback over `folder`, with the content types cameras send."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {  # noqa: RUF012 (the standard library's own class attribute)
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".mjpeg": "multipart/x-mixed-replace;boundary=ffmpeg",
            ".m3u8": "application/vnd.apple.mpegurl",
            ".ts": "video/mp2t",
        }

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_mjpeg_and_hls(
    live_settings: Settings, city: City, clips: dict[str, Path], tmp_path: Path
) -> None:
    """An HTTP MJPEG camera and an HLS playlist are read like any other stream."""
    ffmpeg = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(clips["street"]), "-t", "4"]
    subprocess.run(
        [*ffmpeg, "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
         str(tmp_path / "index.m3u8")],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*ffmpeg, "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", str(tmp_path / "cam.mjpeg")],
        check=True,
    )
    with http_serving(tmp_path) as base:
        gw = gateway(
            live_settings,
            city,
            {"hls": f"{base}/index.m3u8", "mjpeg": f"{base}/cam.mjpeg"},
        )
        with running(gw):
            for cid in ("hls", "mjpeg"):
                key = CameraCounter(cid, CameraStat.SENT).key
                wait_for(lambda k=key: gw.stats[k] >= 2, 10)  # type: ignore[misc]
    sent = {r.key for r in read_topic(live_settings.kafka.bootstrap_servers, gw.topics.frames)}
    assert sent == {b"hls", b"mjpeg"}


def test_file_source_loops_and_a_password_never_leaks(
    live_settings: Settings,
    city: City,
    clips: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A file plays like a camera; an RTSP camera with a password full of special characters
    connects; one with a wrong password is reported, without the password anywhere."""
    caplog.set_level(logging.DEBUG)
    good = RtspServer(clips["street"], auth=("city ops", PASSWORD))
    env = {
        "TEST_CAMERA_GOOD_USERNAME": "city ops",
        "TEST_CAMERA_GOOD_PASSWORD": PASSWORD,
        "TEST_CAMERA_BAD_USERNAME": "city ops",
        "TEST_CAMERA_BAD_PASSWORD": PASSWORD + "x",
    }
    gw = gateway(
        live_settings,
        city,
        {"file": str(clips["street"]), "good": good.url, "bad": good.url},
        credentials={"good": "GOOD", "bad": "BAD"},
        environ=env,
    )
    with serving(good), running(gw):
        for cid in ("file", "good"):
            key = CameraCounter(cid, CameraStat.SAMPLED).key
            wait_for(lambda k=key: gw.stats[k] >= 3, 15)  # type: ignore[misc]
        wait_for(lambda: HealthState.OFFLINE in states(gw, "bad"), 10)
    bad = next(c for c in gw.changes if c.camera == "bad")
    assert "never connected" in bad.detail and "rtsp://127.0.0.1" in bad.detail
    out, err = capfd.readouterr()
    text = caplog.text + out + err + " ".join(c.detail for c in gw.changes)
    alerts = read_topic(live_settings.kafka.bootstrap_servers, gw.topics.alerts)
    text += "".join(r.value.decode() for r in alerts)
    for secret in (PASSWORD, "p%40ss", "w/rd", "%3F%23"):
        assert secret not in text


def test_bad_streams_get_a_clear_status(
    live_settings: Settings, city: City, clips: dict[str, Path], tmp_path: Path
) -> None:
    """A camera that accepts connections and never answers, a 0-byte file and a missing file
    are offline with the reason; a resolution change mid-stream and a camera recoded to H.265
    at another size keep the frames coming, and a frame over the pixel limit goes out scaled
    to fit."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts into the backlog, never says a word
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    two_sizes = tmp_path / "two_sizes.ts"
    parts = []
    for i, size in enumerate(((320, 180), (480, 272))):
        frames = (f for f, _ in street_frames(city.cameras[1], T0, 3, FPS, size, seed=i))
        mp4 = write_video(frames, tmp_path / f"part{i}.mp4", FPS)
        ts = tmp_path / f"part{i}.ts"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(mp4), "-c", "copy",
             "-bsf:v", "h264_mp4toannexb", str(ts)],
            check=True,
        )  # fmt: skip
        parts.append(ts)
    two_sizes.write_bytes(b"".join(p.read_bytes() for p in parts))
    recoded = tmp_path / "recoded.mp4"
    frames = (f for f, _ in street_frames(city.cameras[2], T0, 2, FPS, SIZE, seed=4))
    write_video(frames, recoded, FPS)
    hevc = tmp_path / "hevc.mp4"
    frames = (f for f, _ in street_frames(city.cameras[2], T0, 1.5, FPS, (352, 200), seed=5))
    write_video(frames, hevc, FPS, codec="libx265")
    port = silent.getsockname()[1]
    gw = gateway(
        live_settings,
        city,
        {
            "silent": f"rtsp://127.0.0.1:{port}/cam",
            "empty": str(empty),
            "missing": str(tmp_path / "nothing-here.mp4"),
            "resized": str(two_sizes),
            "recoded": str(recoded),
        },
        max_pixels=400 * 240,  # the second size is too large: it is sent scaled to fit
    )
    try:
        with running(gw):
            for cid in ("silent", "empty", "missing"):
                wait_for(lambda c=cid: HealthState.OFFLINE in states(gw, c), 12)  # type: ignore[misc]
            wait_for(lambda: gw.stats[CameraCounter("resized", CameraStat.SAMPLED).key] >= 20, 15)
            # the camera is reconfigured to H.265 at another size: read as such once reopened
            reopened = CameraCounter("recoded", CameraStat.RECONNECTS).key
            opens = gw.stats[reopened]
            hevc.replace(recoded)
            # the second open after the swap read the new file (the first may be the old one's)
            wait_for(lambda: gw.stats[reopened] >= opens + 2, 12)
    finally:
        silent.close()
    detail = {c.camera: c.detail for c in gw.changes if c.state is HealthState.OFFLINE}
    assert "empty file (0 bytes)" in detail["empty"]
    assert "no such file" in detail["missing"]
    assert f"cannot open rtsp://127.0.0.1:{port}/cam: no answer within" in detail["silent"]
    sizes = {
        (int(dict(r.headers)["width"]), int(dict(r.headers)["height"]))
        for r in read_topic(live_settings.kafka.bootstrap_servers, gw.topics.frames)
        if r.key == b"resized"
    }
    assert sizes == {(320, 180), (410, 232)} and gw.stats["resized"] > 0
    recoded_sizes = {
        (int(dict(r.headers)["width"]), int(dict(r.headers)["height"]))
        for r in read_topic(live_settings.kafka.bootstrap_servers, gw.topics.frames)
        if r.key == b"recoded"
    }
    assert recoded_sizes == {(320, 180), (352, 200)}


def test_the_command_reads_a_camera_and_writes_its_health_where_the_dashboard_reads(
    live_settings: Settings, clips: dict[str, Path], tmp_path: Path
) -> None:
    """`citybrain cameras` as an operator starts it: a camera given a stream in cameras.yaml is
    read, its frames sent, and its counters written to the store the dashboard reads."""
    city_dir = tmp_path / "city"
    shutil.copytree(ROOT / "config" / "city", city_dir)
    cams = city_dir / "cameras.yaml"
    cams.write_text(
        cams.read_text().replace(
            "district: xicheng, zones: *standard_zones}",
            f'district: xicheng, zones: *standard_zones, stream: "{clips["street"]}"}}',
            1,
        )
    )
    env = {
        **os.environ,
        "CITYBRAIN_CITY__DIR": str(city_dir),
        "CITYBRAIN_KAFKA__BOOTSTRAP_SERVERS": live_settings.kafka.bootstrap_servers,
        "CITYBRAIN_KAFKA__TOPIC_PREFIX": live_settings.kafka.topic_prefix,
        "CITYBRAIN_STORE__URL": live_settings.store.url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "citybrain", "cameras", "--duration", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    totals = json.loads(run.stdout.strip().splitlines()[-1])
    assert totals["job"] == "cameras" and totals["sent"] >= 1
    (row,) = [v for k, v in Store.from_url(live_settings.store.url).stats().items()
              if k.startswith("cameras@")]  # fmt: skip
    assert row["camera.cam-01.health"] == HealthState.ONLINE.code
    assert row["camera.cam-01.sampled"] >= 2
    frames = read_topic(live_settings.kafka.bootstrap_servers, Topics(
        live_settings.kafka.topic_prefix).frames)  # fmt: skip
    assert {r.key for r in frames} == {b"cam-01"}
