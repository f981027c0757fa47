"""`snapshot_blur: people` never shows a frame the detector could not vouch for: without a
privacy record (no person class, or older evidence) the background is blurred too."""

from __future__ import annotations

import cv2
import numpy as np

from citybrain.web.snapshot import render

PEOPLE = ("person",)
PLATES = ("car",)


def _noise_jpeg() -> bytes:
    img = np.random.default_rng(1).integers(0, 256, (120, 160, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buf)


def _detail(jpeg: bytes, rows: slice, cols: slice) -> float:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return float(np.abs(np.diff(img[rows, cols].astype(int), axis=1)).mean())


POTHOLE = [{"cls": "pothole", "confidence": 0.9, "box": [0.6, 0.6, 0.9, 0.9]}]
CORNER = (slice(5, 50), slice(5, 60))  # far from every box


def test_people_mode_without_a_privacy_record_blurs_the_background() -> None:
    raw = _noise_jpeg()
    sharp = _detail(raw, *CORNER)
    out = render(raw, POTHOLE, None, "people", PEOPLE, PLATES, None)
    assert out is not None
    assert _detail(out, *CORNER) < 0.3 * sharp


def test_people_mode_with_a_privacy_record_keeps_the_background() -> None:
    raw = _noise_jpeg()
    person = [{"cls": "person", "confidence": 0.8, "box": [0.1, 0.6, 0.2, 0.9]}]
    out = render(raw, POTHOLE, None, "people", PEOPLE, PLATES, person)
    assert out is not None
    assert _detail(out, *CORNER) > 0.7 * _detail(raw, *CORNER)
    # and the person itself is hidden
    assert _detail(out, slice(75, 105), slice(18, 30)) < 0.3 * _detail(
        raw, slice(75, 105), slice(18, 30)
    )
