"""The frame decoder on mutated, truncated and forged JPEGs: a picture within the pixel bound
or a RejectedRecord with a reason, never another exception."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from citybrain.errors import RejectedRecord
from citybrain.vision.decode import decode_frame, parse_meta

MAX_PIXELS = 640 * 480


def _jpeg(progressive: bool) -> bytes:
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)]
    ok, buf = cv2.imencode(".jpg", img, params)
    assert ok
    return bytes(buf)


SEEDS = [_jpeg(False), _jpeg(True)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "size", "insert"]))
        if kind == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "size":  # rewrite the frame header's size: the header bomb
            at = data.find(b"\xff\xc0")
            at = at if at >= 0 else data.find(b"\xff\xc2")
            if at >= 0 and at + 9 <= len(data):
                data[at + 5 : at + 9] = draw(st.binary(min_size=4, max_size=4))
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


@given(
    st.one_of(
        mutated(), st.binary(max_size=512), st.binary(max_size=64).map(lambda b: b"\xff\xd8" + b)
    )
)
def test_decode_returns_a_bounded_picture_or_a_reason(data: bytes) -> None:
    try:
        img = decode_frame(data, MAX_PIXELS, MAX_PIXELS // 4)
    except RejectedRecord as e:
        assert e.reason in {"undecodable_jpeg", "oversized_frame", "unsupported_pixels"}
        return
    assert img.dtype == np.uint8 and img.shape[0] * img.shape[1] <= MAX_PIXELS


@given(
    st.dictionaries(
        st.sampled_from(["camera_id", "ts_ms", "seq", "width", "height", "x"]),
        st.binary(max_size=24),
    )
)
def test_frame_headers_parse_or_are_rejected(headers: dict[str, bytes]) -> None:
    try:
        parse_meta(headers)
    except RejectedRecord as e:
        assert e.reason in {"missing_headers", "invalid_headers"}
