"""EXIF orientation is handled once, by the one frame decoder the vision job and the web's
snapshot share: a box found on the decoded pixels lands on the same pixels in the snapshot,
so a person in a rotated frame is hidden where they are, not beside them."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from citybrain.vision.decode import decode_frame, exif_orientation
from citybrain.web.snapshot import render

LIMITS = (10_000_000, 10_000_000)
# stored pixels → upright, for the orientations that turn the frame by a quarter
TO_STORED = {6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}


def _jpeg(bgr: np.ndarray, orientation: int | None) -> bytes:
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


def _scene() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A flat 240x160 (w x h) street with a fine-grained 'face' (a checkerboard) at top left."""
    img = np.full((160, 240, 3), 120, np.uint8)
    x1, y1, x2, y2 = 20, 16, 76, 72
    yy, xx = np.mgrid[y1:y2, x1:x2]
    img[y1:y2, x1:x2] = np.where(((yy // 4 + xx // 4) % 2)[..., None] == 1, 250, 10)
    return img, (x1, y1, x2, y2)


def _detail(img: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    grey = cv2.cvtColor(img[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY).astype(float)
    return float(np.abs(np.diff(grey, axis=1)).mean())


def _found(img: np.ndarray) -> tuple[float, float, float, float]:
    """Where the decoded frame shows the checkerboard, normalised: what a detector reports."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(float)
    ys, xs = np.nonzero(np.abs(cv2.Laplacian(grey, cv2.CV_64F)) > 200)
    h, w = grey.shape
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_decoder_turns_the_frame_as_its_exif_says(orientation: int) -> None:
    """Checked against OpenCV's own EXIF handling (its IMREAD_COLOR applies it)."""
    scene, _ = _scene()
    data = _jpeg(scene, orientation)
    assert exif_orientation(data) == orientation
    reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decode_frame(data, *LIMITS), reference)


def test_no_or_broken_exif_is_upright() -> None:
    scene, _ = _scene()
    assert exif_orientation(_jpeg(scene, None)) == 1
    assert exif_orientation(b"\xff\xd8 not a jpeg") == 1


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_person_in_a_rotated_frame_is_hidden_where_they_are(orientation: int) -> None:
    """The camera stored its frame on its side with an EXIF orientation. The detector's box
    (here: where the decoded frame shows the 'face') hides the face in the snapshot."""
    upright_scene, face = _scene()
    data = _jpeg(cv2.rotate(upright_scene, TO_STORED[orientation]), orientation)
    seen = decode_frame(data, *LIMITS)  # what the vision job detects on
    assert seen.shape == upright_scene.shape
    box = _found(seen)
    privacy = [{"cls": "person", "confidence": 0.9, "box": list(box)}]
    out = render(data, [], None, "people", ("person",), (), privacy, LIMITS)
    assert out is not None
    shown = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape == upright_scene.shape  # shown upright, like the decoder's frame
    assert _detail(shown, face) < 0.2 * _detail(upright_scene, face)
