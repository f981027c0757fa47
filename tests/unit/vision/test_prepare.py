"""Frames of a batch into the detector's input: bad frames are named, good ones go on."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

from citybrain.config.vision import VisionSettings
from citybrain.vision.prepare import CpuPreparer, select_preparer


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def png16() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((32, 32, 3), 40000, np.uint16))
    assert ok
    return buf.tobytes()


def test_bad_frames_are_rejected_with_reasons_and_the_rest_prepared() -> None:
    rng = np.random.default_rng(0)
    colour = jpeg(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8))
    grey = jpeg(rng.integers(0, 256, (48, 64), dtype=np.uint8))
    frames = [
        colour,
        colour[: len(colour) // 2],  # truncated mid-scan
        colour[:-2],  # only the end-of-image marker missing
        b"\xff\xd8" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)),  # corrupt
        png16(),  # 16-bit PNG bytes sent as a frame
        grey,
        jpeg(np.full((16, 16, 3), 200, np.uint8)),  # tiny
    ]
    settings = VisionSettings(imgsz=64, batch_size=4)
    prep = CpuPreparer(settings).prepare(frames)
    reasons = {i: (e.reason, e.detail) for i, e in prep.rejected}
    assert reasons[1] == (
        "undecodable_jpeg",
        "JPEG could not be decoded (no end-of-image marker: truncated?)",
    )
    assert reasons[2] == reasons[1]  # this OpenCV refuses any truncation
    assert reasons[3][0] == "undecodable_jpeg"
    assert reasons[4] == ("undecodable_jpeg", "not a JPEG: a PNG image")
    assert prep.kept == [0, 5, 6] and prep.grey == 1
    assert isinstance(prep.images, np.ndarray) and prep.images.shape == (3, 3, 64, 64)
    assert [(lb.width, lb.height) for lb in prep.letterboxes] == [(160, 90), (64, 48), (16, 16)]
    # the grey frame is grey in all three channels; the tiny one is its uniform colour
    assert np.array_equal(prep.images[1, 0], prep.images[1, 2])
    np.testing.assert_allclose(prep.images[2], 200 / 255, atol=1 / 255)


def test_gpu_path_without_cuda_falls_back_with_the_reason_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present: the fallback cannot be observed here")
    settings = VisionSettings(preprocess_device="cuda")
    with caplog.at_level(logging.WARNING, logger="citybrain.vision.prepare"):
        preparer = select_preparer(settings)
    assert isinstance(preparer, CpuPreparer) and preparer.device == "cpu"
    assert "CUDA is not available" in caplog.text and "CPU (numba) path" in caplog.text
    assert isinstance(select_preparer(VisionSettings()), CpuPreparer)
