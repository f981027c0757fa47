"""The numba kernels against the OpenCV + NumPy reference (`preprocess_ref`).

Max abs error, in the buffer's own units: 0 for frames OpenCV resizes on its exact paths
(1080p, 720p, 8K here), otherwise at most one uint8 level (OpenCV's fixed-point rounding):
1 for uint8, 1/255 for float32, 1/255 + float16 rounding for float16; for CLIP buffers one level
divided by CLIP's std (≤ 0.0147) plus float16 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from citybrain.vision.preprocess import (
    PAD_VALUE,
    letterbox_params,
    make_buffer,
    preprocess_clip,
    preprocess_yolo,
)
from citybrain.vision.preprocess_ref import clip_ref, letterbox_ref

SHAPES = [
    (1080, 1920, 3),
    (720, 1280, 3),
    (333, 211, 3),  # odd, portrait
    (17, 33, 3),
    (16, 16, 3),  # tiny: scaled up 20x
    (16, 16),  # grayscale, 2-D
    (45, 80, 1),  # grayscale with a channel axis
    (1, 5, 3),  # one row
]
TOL = {"uint8": 1.0, "float32": 1 / 255 + 1e-6, "float16": 1 / 255 + 1e-3}


def frames(shapes: list[tuple[int, ...]], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]


@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32"])
def test_letterbox_matches_opencv_reference(dtype: str) -> None:
    imgs = frames(SHAPES)
    got, ref = make_buffer(len(imgs), 320, dtype), make_buffer(len(imgs), 320, dtype)  # type: ignore[arg-type]
    boxes = preprocess_yolo(imgs, got)
    letterbox_ref(imgs, ref)
    err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    assert err.max() <= TOL[dtype]
    assert err[:2].max() <= (1e-3 if dtype == "float16" else 1e-6)  # 1080p, 720p: exact
    for img, lb in zip(imgs, boxes, strict=True):
        assert (lb.height, lb.width) == img.shape[:2]
    # 1080p lands 320x180 in the middle: grey bars above and below
    assert (boxes[0].pad_x, boxes[0].pad_y) == (0, 70)
    scale = 255.0 if dtype != "uint8" else 1.0
    np.testing.assert_allclose(got[0, :, :70].astype(np.float32) * scale, PAD_VALUE, atol=0.1)


def test_eight_k_frame_and_offset_into_a_larger_buffer() -> None:
    img = np.zeros((4320, 7680, 3), np.uint8)
    img[:, :, 2] = np.linspace(0, 255, 7680, dtype=np.float32).astype(np.uint8)  # red ramp
    got, ref = make_buffer(3, 320), make_buffer(3, 320)
    got[:] = -1.0
    preprocess_yolo([img], got, offset=1)
    letterbox_ref([img], ref, offset=1)
    assert np.abs(got[1] - ref[1]).max() <= 1 / 255 + 1e-6
    assert (got[0] == -1).all() and (got[2] == -1).all()  # neighbours untouched
    assert got[1, 0, 160].max() > 0.95 and got[1, 2, 160].max() == 0.0  # red lands in channel 0


@pytest.mark.parametrize("mode", ["center_crop", "resize"])
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_clip_variants_match_reference(mode: str, dtype: str) -> None:
    imgs = frames(SHAPES, seed=1)
    got, ref = make_buffer(len(imgs), 224, dtype), make_buffer(len(imgs), 224, dtype)  # type: ignore[arg-type]
    preprocess_clip(imgs, got, mode)  # type: ignore[arg-type]
    clip_ref(imgs, ref, mode)  # type: ignore[arg-type]
    err = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()
    assert err <= 1 / 255 / 0.26130258 + (0.01 if dtype == "float16" else 1e-5)


def test_letterbox_geometry_follows_ultralytics() -> None:
    from ultralytics.data.augment import LetterBox

    for h, w in [(1080, 1920), (333, 211), (16, 16), (1, 5), (4320, 7680), (361, 641)]:
        img = np.zeros((h, w, 3), np.uint8)
        lb = LetterBox(320, auto=False, stride=32)
        p = lb.get_params({"img": img})
        rw, rh, left, top = letterbox_params(h, w, 320)
        assert (rw, rh, left, top) == (*p["new_unpad"], p["left"], p["top"])


def test_bad_inputs_are_refused_clearly() -> None:
    buf = make_buffer(1, 64)
    with pytest.raises(TypeError, match="uint8"):
        preprocess_yolo([np.zeros((8, 8, 3), np.uint16)], buf)
    with pytest.raises(ValueError, match="shape"):
        preprocess_yolo([np.zeros((8, 8, 4), np.uint8)], buf)
    with pytest.raises(ValueError, match="fit"):
        preprocess_yolo([np.zeros((8, 8, 3), np.uint8)] * 2, buf)
    with pytest.raises(TypeError, match="float16 or float32"):
        preprocess_clip([np.zeros((8, 8, 3), np.uint8)], make_buffer(1, 64, "uint8"))
    assert preprocess_yolo([], buf) == []
