"""The vision stage without a broker, under the real worker loop (streams/testing.py):
batching across polls, commit points, failing backends. The detector is a tiny torch module
behind the real LocalBackend (a head that finds nothing), so these run in a second; the full
model and broker are in tests/integration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from citybrain.config import Settings
from citybrain.config.rules import RulePatch
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta, Observation
from citybrain.sim.captions import visible_categories
from citybrain.sim.dataset import plan_frames
from citybrain.sim.render import render_annotated
from citybrain.store import Store
from citybrain.streams.records import Output
from citybrain.streams.testing import Incoming, StageHarness, run_stage
from citybrain.streams.topics import Topics
from citybrain.vision.backends.local import LocalBackend
from citybrain.vision.clip import ImageTower, load_clip
from citybrain.vision.errors import BackendError
from citybrain.vision.scene import ZeroShotHead
from citybrain.web import health
from pipelines.vision import VisionStage


class EmptyHead(torch.nn.Module):
    """[N, 4 + 9, 10] of zeros: a YOLO head that detects nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros((x.shape[0], 13, 10))


class Broken:
    """Stands in for a backend whose model rejects the input (not retryable)."""

    name = "broken"

    def infer(self, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise BackendError("input shape mismatch")

    def close(self) -> None:
        pass


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


class RefusesWhite(torch.nn.Module):
    """A detector that raises on any batch holding a white frame (as a model can on an input
    it was never exported for), and finds nothing in the others."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x.amax(dim=(1, 2, 3)) > 0.9).any()):
            raise RuntimeError("white frame")
        return torch.zeros((x.shape[0], 13, 10))


class SmokeOnBright(torch.nn.Module):
    """A detector that sees smoke (class 0) in the middle of every bright frame."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((x.shape[0], 13, 10))
        bright = x.amax(dim=(1, 2, 3)) > 0.9
        out[bright, :4, 0] = torch.tensor([32.0, 32.0, 20.0, 20.0])
        out[bright, 4, 0] = 0.9
        return out


def record(seq: int, camera: str, ts_ms: int, partition: int = 0, grey: int = 80) -> Incoming:
    ok, buf = cv2.imencode(".jpg", np.full((36, 64, 3), grey, np.uint8))
    assert ok
    meta = FrameMeta(camera_id=camera, ts_ms=ts_ms, seq=seq, width=64, height=36)
    return Incoming("t.frames", buf.tobytes(), camera.encode(), dict(meta.to_headers()), partition)


def stage(settings: Settings, city: City, backend: object, clock: Clock) -> VisionStage:
    s = settings.model_copy(
        update={"vision": settings.vision.model_copy(update={"batch_size": 4, "imgsz": 64})}
    )
    return VisionStage(s, city, Topics("t"), backend, {}, clock=clock)  # type: ignore[arg-type]


def test_frames_wait_for_a_batch_and_the_commit_point_waits_with_them(
    settings: Settings, city: City
) -> None:
    clock = Clock()
    st = stage(settings, city, LocalBackend({"detector": EmptyHead()}), clock)
    h = StageHarness(st)
    run = h.run([record(0, "cam-01", 0), record(1, "cam-02", 0)])
    assert st.stats["frames"] == 0 and run.commits == [{("t.frames", 0): 0}]  # nothing finished
    assert st.holding() == 2 and st.stats["waiting"] == 2
    clock.t += 0.3  # past max_batch_delay_ms
    run = h.run(ticks=1)
    assert st.stats["frames"] == 2 and run.commits == [{("t.frames", 0): 2}] and st.holding() == 0
    run = h.run([record(2 + i, f"cam-0{i + 1}", 1000) for i in range(4)])  # a full batch
    assert st.stats["frames"] == 6 and run.commits == [{("t.frames", 0): 6}]
    assert st.stats["batches"] == 2


def test_camera_health_reads_the_counters_the_job_writes(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    """Frames through the worker loop, its counters written to a real store, then camera
    health as the dashboard shows it: one camera seen, with its frames and capture time."""
    st = stage(settings, city, LocalBackend({"detector": EmptyHead()}), Clock())
    h = StageHarness(st)
    h.run([record(i, "cam-01", 1_000 * (i + 1)) for i in range(4)])  # a full batch
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    store.write_stats("vision@test:1", h.reports[-1])
    now = datetime.now(UTC)
    by_id = {c["id"]: c for c in health.cameras(city, store.stats(), health.RateTracker(), 60, now)}
    cam = by_id["cam-01"]
    assert cam["frames"] == 4 and cam["errors"] == 0 and cam["status"] == "ok"
    assert cam["last_frame_at"] == datetime.fromtimestamp(4, UTC).isoformat()
    assert by_id["cam-02"]["status"] == "never"
    [job] = health.pipelines(store.stats(), health.RateTracker(), now).values()
    assert job["consumed"] == 4 and job["dlq"] == 0


def test_a_backend_error_dead_letters_the_batch_and_moves_on(
    settings: Settings, city: City
) -> None:
    clock = Clock()
    st = stage(settings, city, Broken(), clock)
    run = StageHarness(st).run([record(i, f"cam-0{i + 1}", 0) for i in range(4)])
    assert run.reasons() == ["inference_failed"] * 4
    assert b"input shape mismatch" in dict(run.dead_letters[0].headers)["dlq.detail"]
    # the batch, then each frame alone: all four fail on their own too
    assert run.commits == [{("t.frames", 0): 4}] and st.stats["backend.error"] == 5


def test_a_frame_the_model_refuses_goes_alone_to_the_dlq_and_its_batch_goes_on(
    settings: Settings, city: City
) -> None:
    st = stage(settings, city, LocalBackend({"detector": RefusesWhite()}), Clock())
    frames = [record(i, f"cam-0{i + 1}", 0, grey=255 if i == 2 else 80) for i in range(4)]
    run = StageHarness(st).run(frames)
    assert run.reasons() == ["inference_failed"]
    assert dict(run.dead_letters[0].headers)["dlq.source_offset"] == b"2"
    assert st.stats["frames"] == 3 and st.stats["backend.error.split"] == 1
    assert run.commits == [{("t.frames", 0): 4}]  # the partition moves past the bad frame


class Shapeless(torch.nn.Module):
    """A detector whose output is no YOLO head's ([N, 3, 10]: fewer than 4 box + 1 class rows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros((x.shape[0], 3, 10))


def test_a_detector_answering_nonsense_dead_letters_its_frames_and_the_job_goes_on(
    settings: Settings, city: City
) -> None:
    st = stage(settings, city, LocalBackend({"detector": Shapeless()}), Clock())
    run = StageHarness(st).run([record(i, f"cam-0{i + 1}", 0) for i in range(4)])
    assert run.reasons() == ["inference_failed"] * 4
    assert b"is not [N, 4 + nc, A]" in dict(run.dead_letters[0].headers)["dlq.detail"]
    assert run.commits == [{("t.frames", 0): 4}]


def test_a_frame_the_rules_raise_on_is_dead_lettered_and_the_camera_goes_on(
    settings: Settings, city: City
) -> None:
    st = stage(settings, city, LocalBackend({"detector": EmptyHead()}), Clock())
    observe = st.events.observe

    def fails_once(camera, meta, *args, **kwargs):  # type: ignore[no-untyped-def]
        # stands in for a rules bug that only one frame meets (no real input triggers one)
        if meta.seq == 1:
            raise KeyError("zone")
        return observe(camera, meta, *args, **kwargs)

    st.events.observe = fails_once  # type: ignore[method-assign]
    run = StageHarness(st).run([record(i, "cam-01", 1_000 * (i + 1)) for i in range(4)])
    assert run.reasons() == ["stage_error"]
    assert b"KeyError" in dict(run.dead_letters[0].headers)["dlq.detail"]
    assert st.stats["frames"] == 3 and st.stats["stage_errors"] == 1
    assert run.commits == [{("t.frames", 0): 4}]


def test_rebalance_drops_waiting_frames_for_reconsumption(settings: Settings, city: City) -> None:
    clock = Clock()
    st = stage(settings, city, LocalBackend({"detector": EmptyHead()}), clock)
    h = StageHarness(st)
    h.run([record(5, "cam-01", 0, partition=1)])
    h.rebalance()
    clock.t += 1
    # The partitions move at the first poll, whose tick finds nothing waiting and commits
    # nothing; the frame comes back from Kafka at the next poll and waits for a batch again.
    run = h.run(ticks=1)
    assert st.stats["requeued.rebalance"] == 1
    assert run.commits == [{("t.frames", 1): 0}]  # only the frame's return: the tick's is none
    assert st.holding() == 1 and st.stats["consumed"] == 2  # held once, not twice


def test_scene_scores_from_clip_open_a_camera_event(settings: Settings, city: City) -> None:
    """The demo CLIP tower behind the real LocalBackend scores every frame; a flooded street
    seen for `open_k` frames opens a flooding event through the rule's scene threshold, with
    no detector box at all (the detector here finds nothing)."""
    clip, _ = load_clip(settings.vision.clip.weights)
    head = ZeroShotHead.from_city(city, clip, settings.vision.clip)
    classes = {c.id: c.detector_classes for c in city.categories}
    plan = next(
        p
        for p in plan_frames(city, "val", 400, seed=1)
        if visible_categories(
            [e.category for e in p.events],
            render_annotated(p.camera, p.events, p.t, 448, 252, p.noise_rng())[1],
            classes,
        )
        == ["flooding"]
    )
    img, _ = render_annotated(plan.camera, plan.events, plan.t, 448, 252, plan.noise_rng())
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    scene_rule = RulePatch(scene_threshold=0.6)  # the sample config leaves scene rules off
    rules = settings.rules.model_copy(
        update={"categories": {**settings.rules.categories, "flooding": scene_rule}}
    )
    s = settings.model_copy(
        update={
            "vision": settings.vision.model_copy(update={"batch_size": 1, "imgsz": 64}),
            "rules": rules,
        }
    )
    backend = LocalBackend({"detector": EmptyHead(), "clip_image": ImageTower(clip).eval()})
    st = VisionStage(s, city, Topics("t"), backend, {}, clock=Clock(), scene=head)
    records = []
    for i in range(4):
        meta = FrameMeta(camera_id=plan.camera.id, ts_ms=i * 2000, seq=i, width=448, height=252)
        records.append(
            Incoming("t.frames", buf.tobytes(), plan.camera.id.encode(), dict(meta.to_headers()))
        )
    outputs = StageHarness(st, max_poll_records=1).run(records).outputs  # a poll per frame
    assert st.stats["scene_scored"] == 4
    obs = [Observation.model_validate_json(o.value) for o in outputs]
    assert obs and {o.category for o in obs} == {"flooding"}
    assert obs[0].rule_state == "opened" and obs[0].detections == ()
    assert obs[0].scene_score is not None and obs[0].scene_score >= 0.6
    # the frame's CLIP embedding travels with the evidence, for similarity search
    emb = np.asarray(obs[0].embedding)
    assert emb.shape == (clip.text_projection.shape[1],) and abs(np.linalg.norm(emb) - 1) < 1e-3


def test_big_real_photo_and_blank_frames_pass_with_the_shipped_detector(
    settings: Settings, city: City
) -> None:
    """A 4000x3000 street photo, an all-black and an all-grey frame: processed, none dead-
    lettered, and the shipped detector finds the photo's potholes at its full size."""
    from citybrain.vision.backends.local import load_detector
    from tests.shared_data import DATASETS, require

    photo = sorted(require(DATASETS / "pothole" / "images").glob("*.jpg"))[0]
    big = cv2.resize(cv2.imread(str(photo)), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    frames = [big, np.zeros((1080, 1920, 3), np.uint8), np.full((1080, 1920, 3), 128, np.uint8)]
    records = []
    for i, img in enumerate(frames):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        h, w = img.shape[:2]
        meta = FrameMeta(camera_id="cam-01", ts_ms=1000 * (i + 1), seq=i, width=w, height=h)
        records.append(Incoming("t.frames", buf.tobytes(), b"cam-01", dict(meta.to_headers())))
    model, names = load_detector(settings.vision.model, trust_pickle=True)  # the demo weights
    s = settings.model_copy(update={"vision": settings.vision.model_copy(update={"batch_size": 3})})
    st = VisionStage(s, city, Topics("t"), LocalBackend({"detector": model}), names, clock=Clock())
    run_stage(st, records)  # a full batch: inferred at once
    assert st.stats["frames"] == 3 and st.stats.get("dlq", 0) == 0
    assert st.stats["detections"] >= 1  # the potholes of the big photo


def _smoke_stage(settings: Settings, city: City, warm_up_frames: int) -> VisionStage:
    vision = settings.vision.model_copy(
        update={"batch_size": 1, "imgsz": 64, "warm_up_frames": warm_up_frames}
    )
    s = settings.model_copy(update={"vision": vision})
    backend = LocalBackend({"detector": SmokeOnBright()})
    return VisionStage(s, city, Topics("t"), backend, {0: "smoke"}, clock=Clock())


def _decisions(outputs: list[Output]) -> list[tuple[int, str]]:
    """(frame minute, rule state) of each observation sent."""
    obs = [Observation.model_validate_json(o.value) for o in outputs]
    return [(int(o.observed_at.timestamp()) // 60, o.rule_state or "") for o in obs]


@pytest.mark.parametrize("warm_up_frames", [8, 0])
def test_a_restarted_job_rebuilds_its_cameras_memory_from_the_frames_before_its_commit(
    settings: Settings, city: City, warm_up_frames: int
) -> None:
    """Smoke on cam-01 for 7 frames a minute apart, then calm. The job dies after frame 4
    (committed) and a new process goes on: re-reading the frames before its commit point,
    it decides exactly what the job that never died decides (the event continues and later
    clears). Without the warm-up the new process sees too few smoky frames to know the
    event is open, and never clears it."""
    frames = [record(i, "cam-01", 60_000 * i, grey=255 if i < 7 else 80) for i in range(13)]
    whole = StageHarness(_smoke_stage(settings, city, warm_up_frames), max_poll_records=1).run(
        frames
    )
    h = StageHarness(_smoke_stage(settings, city, warm_up_frames), max_poll_records=1)
    before = h.run(frames[:5])
    assert before.commits[-1] == {("t.frames", 0): 5}
    h.restart(_smoke_stage(settings, city, warm_up_frames))
    after = h.run(frames[5:])
    want = _decisions(whole.outputs)
    assert want[0] == (2, "opened") and want[-1] == (9, "cleared")  # open_k 3, clear_m 3
    if warm_up_frames:
        assert _decisions(before.outputs + after.outputs) == want
        assert h.stage.stats["warm_up.frames"] == 5 and h.stage.stats["warm_up.starts"] == 1
    else:
        assert _decisions(before.outputs + after.outputs) != want
    assert not after.dead_letters and after.commits[-1] == {("t.frames", 0): 13}
