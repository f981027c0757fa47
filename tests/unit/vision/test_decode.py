import cv2
import numpy as np
import pytest

from citybrain.core.messages import FrameMeta
from citybrain.errors import RejectedRecord
from citybrain.vision.decode import decode_frame, parse_meta


def _jpeg(w: int, h: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((h, w, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_decodes_a_jpeg_to_bgr_and_keeps_grey_frames_grey() -> None:
    img = decode_frame(_jpeg(64, 48), max_pixels=10_000)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    ok, grey = cv2.imencode(".jpg", np.full((48, 64), 90, np.uint8))
    assert ok and decode_frame(grey.tobytes(), max_pixels=10_000).shape == (48, 64)


@pytest.mark.parametrize("data", [b"", b"\xff", b"PNG....", b"\xff\xd8garbage" * 10])
def test_garbage_is_rejected(data: bytes) -> None:
    with pytest.raises(RejectedRecord) as e:
        decode_frame(data, max_pixels=10_000)
    assert e.value.reason == "undecodable_jpeg"


def test_decompression_bomb_is_rejected_before_decoding() -> None:
    with pytest.raises(RejectedRecord) as e:
        decode_frame(_jpeg(800, 800), max_pixels=100_000)
    assert e.value.reason == "oversized_frame"


def test_headers_round_trip_and_missing_ones_are_named() -> None:
    meta = FrameMeta(camera_id="cam-01", ts_ms=5, seq=2, width=64, height=48)
    assert parse_meta(dict(meta.to_headers())) == meta
    partial = {k: v for k, v in meta.to_headers() if k not in ("seq", "width")}
    with pytest.raises(RejectedRecord) as e:
        parse_meta(partial)
    assert e.value.reason == "missing_headers" and "seq, width" in e.value.detail
    with pytest.raises(RejectedRecord) as e:
        parse_meta({**dict(meta.to_headers()), "width": b"-3"})
    assert e.value.reason == "invalid_headers"
