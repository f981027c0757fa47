"""The Triton backend against the real tritonserver (bundled with nvidia-pytriton).

The suite exports a model repository (the configured demo detector at a small input size, a
tiny CLIP image tower, and a copy of that tower made slow on purpose), starts the server on
free ports and compares Triton's answers with the same modules run locally by torch, down to
the vision stage's observations.

Tolerance: Triton runs the traced TorchScript of the module, possibly batched with other
requests, so float32 results may differ in the last bits: atol 1e-4 + rtol 1e-4.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from citybrain.config import Settings
from citybrain.config.rules import CameraRuleSettings, Rule
from citybrain.config.vision import TritonSettings, VisionSettings
from citybrain.core.city import City
from citybrain.core.messages import FrameMeta, Observation
from citybrain.sim.captions import visible_categories
from citybrain.sim.dataset import plan_frames
from citybrain.sim.render import render_annotated
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.vision.backends.local import LocalBackend, load_detector
from citybrain.vision.backends.triton import TritonBackend
from citybrain.vision.clip import IMAGE_SIZE, TINY_CONFIG, ImageTower, build_clip
from citybrain.vision.errors import BackendError, BackendUnavailable
from citybrain.vision.export import (
    ModelSpec,
    ServingOptions,
    detector_module,
    export_repository,
)
from citybrain.vision.triton_server import TritonServer, free_port
from pipelines.vision import VisionStage
from tests.shared_data import COCO_YOLOV5N, require

pytestmark = pytest.mark.integration

ATOL = RTOL = 1e-4
SLOW_S = 1.5
IMGSZ = 160  # small letterbox: the same network, a quarter of the work of 320


@pytest.fixture(scope="module")
def detector() -> tuple[nn.Module, tuple[str, ...]]:
    return detector_module(VisionSettings(imgsz=IMGSZ, trust_pickled_model=True))  # demo weights


@pytest.fixture(scope="module")
def modules(detector: tuple[nn.Module, tuple[str, ...]]) -> dict[str, nn.Module]:
    return {
        "detector": detector[0],
        "clip_image": ImageTower(build_clip(TINY_CONFIG, seed=0)).eval(),
    }


@pytest.fixture(scope="module")
def server(
    modules: dict[str, nn.Module],
    detector: tuple[nn.Module, tuple[str, ...]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TritonServer]:
    root = tmp_path_factory.mktemp("triton")
    with torch.no_grad():
        det_dims = tuple(modules["detector"](torch.rand(1, 3, IMGSZ, IMGSZ)).shape[1:])
    clip_spec = ModelSpec("clip_image", "images", (3, IMAGE_SIZE, IMAGE_SIZE), "embeddings", (64,))
    slow_spec = ModelSpec("clip_slow", "images", (3, IMAGE_SIZE, IMAGE_SIZE), "embeddings", (64,))
    clip_example = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    extra = {}
    if COCO_YOLOV5N.exists():  # original YOLOv5 weights (anchor head) served the same way
        coco, coco_names = detector_module(VisionSettings(model=COCO_YOLOV5N, imgsz=IMGSZ))
        with torch.no_grad():
            coco_dims = tuple(coco(torch.rand(1, 3, IMGSZ, IMGSZ)).shape[1:])
        spec = ModelSpec(
            "coco_detector", "images", (3, IMGSZ, IMGSZ), "output0", coco_dims, coco_names
        )
        extra["coco_detector"] = (coco, spec, torch.rand(2, 3, IMGSZ, IMGSZ))
        modules["coco_detector"] = coco
    export_repository(
        root / "repo",
        {
            **extra,
            "detector": (
                modules["detector"],
                ModelSpec(
                    "detector", "images", (3, IMGSZ, IMGSZ), "output0", det_dims, detector[1]
                ),
                torch.rand(2, 3, IMGSZ, IMGSZ),
            ),
            "clip_image": (modules["clip_image"], clip_spec, clip_example),
            "clip_slow": (modules["clip_image"], slow_spec, clip_example),
        },
        ServingOptions(max_batch_size=8, preferred_batch_sizes=(4, 8), max_queue_delay_us=1000),
        per_model={
            "clip_slow": ServingOptions(max_batch_size=8, parameters={"delay_s": str(SLOW_S)})
        },
    )
    srv = TritonServer(root / "repo", root / "work")
    srv.start(timeout_s=240)  # loading three models on two busy cores can take a while
    yield srv
    srv.stop()


def settings(**kw: object) -> TritonSettings:
    # a generous budget: these tests set each deadline themselves
    base: dict[str, object] = {
        "timeout_s": 30.0,
        "retries": 2,
        "backoff_s": 0.05,
        "retry_budget_s": 600.0,
    }
    return TritonSettings(**(base | kw))  # type: ignore[arg-type]


@pytest.fixture(params=[True, False], ids=["shm", "grpc"])
def backend(request: pytest.FixtureRequest, server: TritonServer) -> Iterator[TritonBackend]:
    b = TritonBackend.connect(settings(shared_memory=request.param), server.url)
    yield b
    b.close()


def local(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def test_detector_through_triton_equals_local_torch(
    backend: TritonBackend,
    modules: dict[str, nn.Module],
    detector: tuple[nn.Module, tuple[str, ...]],
) -> None:
    rng = np.random.default_rng(0)
    for n in (1, 3):  # two batch sizes; the second call reuses (and grows) the regions
        x = rng.random((n, 3, IMGSZ, IMGSZ), dtype=np.float32)
        out = backend.infer("detector", {"images": x})
        assert set(out) == {"output0"}
        want = local(modules["detector"], x)
        assert out["output0"].shape == want.shape
        assert want.shape[:2] == (n, 4 + len(detector[1]))
        np.testing.assert_allclose(out["output0"], want, atol=ATOL, rtol=RTOL)


def test_yolov5_anchor_weights_through_triton_equal_local_torch(
    backend: TritonBackend, modules: dict[str, nn.Module]
) -> None:
    require(COCO_YOLOV5N)
    x = np.random.default_rng(2).random((2, 3, IMGSZ, IMGSZ), dtype=np.float32)
    out = backend.infer("coco_detector", {"images": x})["output0"]
    want = local(modules["coco_detector"], x)
    assert out.shape == want.shape and want.shape[1] == 4 + 80
    np.testing.assert_allclose(out, want, atol=1e-3, rtol=RTOL)
    assert backend.labels("coco_detector")[0] == "person"


def test_the_repository_carries_the_detectors_class_names(
    backend: TritonBackend, detector: tuple[nn.Module, tuple[str, ...]]
) -> None:
    assert backend.labels("detector") == detector[1] and len(detector[1]) > 1
    assert backend.labels("clip_image") == ()


def test_vision_stage_through_triton_finds_what_local_torch_finds(
    server: TritonServer, settings_and_city: tuple[Settings, City]
) -> None:
    """The whole vision stage (decode, numba letterbox, batch, YOLO decode with NMS, zones,
    rules) on rendered frames of the synthetic city, once through Triton and once through the
    in-process backend: the same observations with the same boxes."""
    base, city = settings_and_city
    rules = CameraRuleSettings(default=Rule(open_k=1, window_n=1, clear_m=1))
    vision = base.vision.model_copy(update={"imgsz": IMGSZ, "batch_size": 4})
    s = base.model_copy(update={"vision": vision, "rules": rules})
    classes = {c.id: c.detector_classes for c in city.categories}
    records = []
    for i, p in enumerate(plan_frames(city, "val", 200, seed=3)):
        img, boxes = render_annotated(p.camera, p.events, p.t, 448, 252, p.noise_rng())
        if not visible_categories([e.category for e in p.events], boxes, classes):
            continue
        ok, buf = cv2.imencode(".jpg", img)
        assert ok
        meta = FrameMeta(camera_id=p.camera.id, ts_ms=1000 * i, seq=i, width=448, height=252)
        records.append(
            InRecord("t.frames", 0, i, p.camera.id.encode(), buf.tobytes(), dict(meta.to_headers()))
        )
        if len(records) == 8:
            break

    def observations(backend: object, names: dict[int, str]) -> list[Observation]:
        stage = VisionStage(s, city, Topics("t"), backend, names)  # type: ignore[arg-type]
        out = stage.process(records).outputs
        assert stage.stats["frames"] == len(records) and stage.stats["dlq"] == 0
        return [Observation.model_validate_json(o.value) for o in out]

    model, names = load_detector(vision.model, trust_pickle=vision.trust_pickled_model)
    local_obs = observations(LocalBackend({"detector": model}), names)
    triton = TritonBackend.connect(settings(), server.url)
    via_triton = observations(triton, dict(enumerate(triton.labels("detector"))))
    triton.close()
    assert local_obs, "the demo detector should see some of the drawn events"
    assert [(o.id, o.category, o.zone) for o in via_triton] == [
        (o.id, o.category, o.zone) for o in local_obs
    ]
    for a, b in zip(via_triton, local_obs, strict=True):
        assert [d.cls for d in a.detections] == [d.cls for d in b.detections]
        np.testing.assert_allclose(
            [d.box for d in a.detections], [d.box for d in b.detections], atol=2e-3
        )


def test_clip_tower_through_triton_equals_local_torch(
    backend: TritonBackend, modules: dict[str, nn.Module]
) -> None:
    x = np.random.default_rng(1).standard_normal((4, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    out = backend.infer("clip_image", {"images": x})["embeddings"]
    np.testing.assert_allclose(out, local(modules["clip_image"], x), atol=ATOL, rtol=RTOL)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_bad_requests_fail_at_once_without_retries(backend: TritonBackend) -> None:
    x = np.zeros((1, 3, 32, 32), np.float32)
    with pytest.raises(BackendError, match="does not fit"):
        backend.infer("clip_image", {"images": x})
    with pytest.raises(BackendError, match="takes inputs"):
        backend.infer(
            "clip_image", {"pixels": np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)}
        )
    with pytest.raises(BackendError):
        backend.infer("no_such_model", {"images": x})
    assert backend.retried == 0


def test_server_down_raises_unavailable_after_retries() -> None:
    b = TritonBackend.connect(settings(retries=2, timeout_s=1.0), f"127.0.0.1:{free_port()}")
    x = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    with pytest.raises(BackendUnavailable, match="after 3 attempts"):
        b.infer("clip_image", {"images": x})
    assert b.retried == 2
    b.close()


def test_retries_stop_when_the_call_budget_is_spent() -> None:
    """Ten retries with doubling back-off would hold the worker far past its poll interval;
    the call's budget ends them early and the caller applies back-pressure instead."""
    slow = settings(retries=10, timeout_s=1.0, backoff_s=0.5, backoff_max_s=8.0)
    b = TritonBackend.connect(
        slow.model_copy(update={"retry_budget_s": 1.0}), f"127.0.0.1:{free_port()}"
    )
    x = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    with pytest.raises(BackendUnavailable, match="1 s budget spent"):
        b.infer("clip_image", {"images": x})
    assert b.retried < 10
    b.close()


def test_slow_server_times_out_then_succeeds_with_a_longer_deadline(
    server: TritonServer, modules: dict[str, nn.Module]
) -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    impatient = TritonBackend.connect(settings(timeout_s=SLOW_S / 3, retries=1), server.url)
    impatient.metadata("clip_slow")  # metadata is fast; only inference is slow
    with pytest.raises(BackendUnavailable, match=r"DEADLINE_EXCEEDED|Deadline"):
        impatient.infer("clip_slow", {"images": x})
    assert impatient.retried == 1
    impatient.close()
    # the caller kept its frames: the same batch goes through once the deadline allows
    patient = TritonBackend.connect(settings(timeout_s=SLOW_S * 4), server.url)
    out = patient.infer("clip_slow", {"images": x})["embeddings"]
    np.testing.assert_allclose(out, local(modules["clip_image"], x), atol=ATOL, rtol=RTOL)
    patient.close()


def test_restarted_server_serves_the_held_batch_again(
    server: TritonServer, modules: dict[str, nn.Module]
) -> None:
    """Down: BackendUnavailable after the retries, the caller keeps the batch. Back up on the
    same port: the same backend object (shared memory re-registered) serves it. Runs last:
    it restarts the module's server."""
    b = TritonBackend.connect(settings(retries=1, timeout_s=2.0), server.url)
    x = np.random.default_rng(3).standard_normal((2, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    before = b.infer("clip_image", {"images": x})["embeddings"]
    server.stop()
    with pytest.raises(BackendUnavailable):
        b.infer("clip_image", {"images": x})
    server.start(timeout_s=240)
    after = b.infer("clip_image", {"images": x})["embeddings"]
    np.testing.assert_allclose(after, before, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(after, local(modules["clip_image"], x), atol=ATOL, rtol=RTOL)
    b.close()
