"""YOLO decoding: fixture tensors, and the whole new path (numba letterbox → local backend →
decode) against ultralytics' own predict() on the same frames with the same (seeded, untrained)
model. The untrained head scores every anchor below ~0.002, so a very low confidence threshold
gives plenty of boxes to compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from citybrain.config.vision import VisionSettings
from citybrain.vision.backends.local import LocalBackend
from citybrain.vision.detector import Detector, prepare_ultralytics_offline
from citybrain.vision.errors import BackendError
from citybrain.vision.heads.yolo import decode_yolo
from citybrain.vision.preprocess import Letterbox, make_buffer, preprocess_yolo

MODEL = Path("models/demo/citybrain-yolov8n.yaml")


def test_decode_fixture_tensor_maps_boxes_through_the_letterbox() -> None:
    # Two anchors for frame 0 (a 640x360 frame letterboxed into 320: gain 0.5, pad_y 70),
    # overlapping, so NMS keeps the stronger; one weak anchor below the threshold.
    raw = torch.zeros((1, 4 + 3, 3))
    raw[0, :4, 0] = torch.tensor([160.0, 160.0, 40.0, 20.0])  # xywh in input pixels
    raw[0, 4 + 2, 0] = 0.9
    raw[0, :4, 1] = torch.tensor([161.0, 160.0, 40.0, 20.0])
    raw[0, 4 + 2, 1] = 0.6
    raw[0, :4, 2] = torch.tensor([50.0, 100.0, 10.0, 10.0])
    raw[0, 4 + 0, 2] = 0.1
    lb = Letterbox(width=640, height=360, gain_x=0.5, gain_y=0.5, pad_x=0, pad_y=70)
    (d,) = decode_yolo(raw.numpy(), [lb], {0: "vehicle", 2: "pothole"}, conf=0.25, iou=0.45)
    assert d.class_names == ("pothole",)
    # (140, 150)-(180, 170) in input pixels → (280, 160)-(360, 200) in the frame
    np.testing.assert_allclose(d.xyxyn[0], [280 / 640, 160 / 360, 360 / 640, 200 / 360], atol=1e-6)
    np.testing.assert_allclose(d.confidence, [0.9], atol=1e-6)


def test_decode_ignores_padding_rows_and_rejects_wrong_shapes() -> None:
    raw = np.zeros((4, 6, 10), np.float32)
    lb = Letterbox(100, 100, 1.0, 1.0, 0, 0)
    assert [len(d) for d in decode_yolo(raw, [lb, lb], {}, 0.25, 0.45)] == [0, 0]
    with pytest.raises(ValueError, match="4 \\+ nc"):
        decode_yolo(np.zeros((1, 3, 10), np.float32), [lb], {}, 0.25, 0.45)


def test_local_backend_refuses_unknown_models_and_bad_input() -> None:
    backend = LocalBackend({"detector": torch.nn.Conv2d(3, 5, 1)})
    with pytest.raises(BackendError, match="no model"):
        backend.infer("clip_image", {"images": np.zeros((1, 3, 8, 8), np.float32)})
    with pytest.raises(BackendError, match="missing input"):
        backend.infer("detector", {"pixels": np.zeros((1, 3, 8, 8), np.float32)})
    with pytest.raises(BackendError):
        backend.infer("detector", {"images": np.zeros((1, 4, 8, 8), np.float32)})
    out = backend.infer("detector", {"images": np.zeros((2, 3, 8, 8), np.float16)})
    assert out["output0"].shape == (2, 5, 8, 8) and out["output0"].dtype == np.float32


def _lively_model() -> object:
    """The untrained YOLO from YAML (seeded), made to answer: its BatchNorm statistics measured
    on random batches (an untrained net's activations otherwise vanish) and the class biases
    zeroed (their prior keeps every score near 0.001). Weights are fixed before either path runs."""
    from ultralytics import YOLO

    prepare_ultralytics_offline(Path("var/ultralytics"))
    torch.manual_seed(0)
    yolo = YOLO(str(MODEL), task="detect")
    net = yolo.model
    assert isinstance(net, torch.nn.Module)
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None  # plain average over the calibration batches
    for seq in net.model[-1].cv3:  # type: ignore[index, union-attr]
        seq[-1].bias.data.zero_()
    net.train()
    with torch.no_grad():
        net(torch.rand(4, 3, 320, 320, generator=torch.Generator().manual_seed(1)))
    net.eval()
    return yolo


def test_new_path_matches_ultralytics_predict() -> None:
    conf, iou = 0.5, 0.45
    yolo = _lively_model()
    names = dict(enumerate(yaml.safe_load(MODEL.read_text())["names"]))
    settings = VisionSettings(model=MODEL, imgsz=320, conf_threshold=conf, iou_threshold=iou)
    reference = Detector(yolo, names, settings)
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    frames = [base, base[:, ::-1].copy(), rng.integers(0, 256, (333, 211, 3), dtype=np.uint8)]
    expected = reference.detect(frames)  # fuses the model in place; the same weights serve both
    backend = LocalBackend({"detector": yolo.model})  # type: ignore[attr-defined]
    buf = make_buffer(len(frames), 320)
    boxes = preprocess_yolo(frames, buf)
    raw = backend.infer("detector", {"images": buf})["output0"]
    got = decode_yolo(raw, boxes, names, conf=conf, iou=iou)
    # Each predicted box needs a twin in the new path: same class, corners within `box` of the
    # frame size (an untrained head draws many zero-area boxes, so not IoU), confidence within
    # `score`. The 640x360 frames preprocess bit-exactly, so they must match to float noise;
    # the odd-sized frame differs by one uint8 level in ~13% of its pixels (OpenCV's fixed-point
    # rounding), which this sensitive random net turns into small box and score shifts.
    for i, (e, g, box, score, share) in enumerate(
        zip(expected, got, (1e-3, 1e-3, 0.02), (1e-4, 1e-4, 0.01), (1.0, 1.0, 0.9), strict=True)
    ):
        assert len(e) > 10  # the comparison is not vacuous
        assert abs(len(e) - len(g)) <= max(1, len(e) // 20), i
        twins = sum(
            any(
                n == name and abs(float(c) - float(p)) < score and np.abs(xy - b).max() < box
                for b, c, n in zip(g.xyxyn, g.confidence, g.class_names, strict=True)
            )
            for xy, p, name in zip(e.xyxyn, e.confidence, e.class_names, strict=True)
        )
        assert twins >= share * len(e), (i, twins, len(e))
