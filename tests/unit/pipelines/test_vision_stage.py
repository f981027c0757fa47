"""The vision stage without a broker: batching across polls, commit points, failing backends.
The detector is a tiny torch module behind the real LocalBackend (a head that finds nothing),
so these run in a second; the full model and broker are in tests/integration."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from citybrain.config import Settings
from citybrain.config.rules import RulePatch
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta, Observation
from citybrain.sim.captions import visible_categories
from citybrain.sim.dataset import plan_frames
from citybrain.sim.render import render_annotated
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.vision.backends.local import LocalBackend
from citybrain.vision.clip import ImageTower, load_clip
from citybrain.vision.errors import BackendError
from citybrain.vision.scene import ZeroShotHead
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


def record(offset: int, camera: str, ts_ms: int, partition: int = 0) -> InRecord:
    ok, buf = cv2.imencode(".jpg", np.full((36, 64, 3), 80, np.uint8))
    assert ok
    meta = FrameMeta(camera_id=camera, ts_ms=ts_ms, seq=offset, width=64, height=36)
    return InRecord(
        "t.frames", partition, offset, camera.encode(), buf.tobytes(), dict(meta.to_headers())
    )


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
    b = st.process([record(0, "cam-01", 0), record(1, "cam-02", 0)])
    assert st.stats["frames"] == 0 and b.commit == {("t.frames", 0): 0}  # nothing finished
    assert st.holding() == 2 and st.stats["waiting"] == 2
    clock.t += 0.3  # past max_batch_delay_ms
    b = st.tick()
    assert st.stats["frames"] == 2 and b.commit == {("t.frames", 0): 2} and st.holding() == 0
    b = st.process([record(2 + i, f"cam-0{i + 1}", 1000) for i in range(4)])  # a full batch
    assert st.stats["frames"] == 6 and b.commit == {("t.frames", 0): 6}
    assert st.stats["batches"] == 2


def test_a_backend_error_dead_letters_the_batch_and_moves_on(
    settings: Settings, city: City
) -> None:
    clock = Clock()
    st = stage(settings, city, Broken(), clock)
    b = st.process([record(i, f"cam-0{i + 1}", 0) for i in range(4)])
    assert [e.reason for _, e in b.rejected] == ["inference_failed"] * 4
    assert "input shape mismatch" in b.rejected[0][1].detail
    assert b.commit == {("t.frames", 0): 4} and st.stats["backend.error"] == 1


def test_rebalance_drops_waiting_frames_for_reconsumption(settings: Settings, city: City) -> None:
    clock = Clock()
    st = stage(settings, city, LocalBackend({"detector": EmptyHead()}), clock)
    st.process([record(5, "cam-01", 0, partition=1)])
    st.on_assigned()
    assert st.holding() == 0 and st.stats["requeued.rebalance"] == 1
    clock.t += 1
    assert st.tick().commit == {}  # nothing to commit: the frame comes back from Kafka


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
    outputs = []
    for i in range(4):
        meta = FrameMeta(camera_id=plan.camera.id, ts_ms=i * 2000, seq=i, width=448, height=252)
        rec = InRecord(
            "t.frames", 0, i, plan.camera.id.encode(), buf.tobytes(), dict(meta.to_headers())
        )
        outputs += st.process([rec]).outputs
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
        records.append(
            InRecord("t.frames", 0, i, b"cam-01", buf.tobytes(), dict(meta.to_headers()))
        )
    model, names = load_detector(settings.vision.model)
    s = settings.model_copy(update={"vision": settings.vision.model_copy(update={"batch_size": 3})})
    st = VisionStage(s, city, Topics("t"), LocalBackend({"detector": model}), names, clock=Clock())
    st.process(records)  # a full batch: inferred at once
    assert st.stats["frames"] == 3 and st.stats.get("dlq", 0) == 0
    assert st.stats["detections"] >= 1  # the potholes of the big photo
