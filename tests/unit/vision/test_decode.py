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


def _claiming(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header rewritten to claim another size."""
    from citybrain.vision.decode import _SOF

    i = 2
    while data[i + 1] not in _SOF:
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    out = bytearray(data)
    out[i + 5 : i + 7] = height.to_bytes(2, "big")
    out[i + 7 : i + 9] = width.to_bytes(2, "big")
    return bytes(out)


def test_header_size_is_read_without_decoding() -> None:
    from citybrain.vision.decode import read_jpeg_header

    head = read_jpeg_header(_jpeg(64, 48))
    assert (head.width, head.height, head.progressive) == (64, 48, False)
    ok, prog = cv2.imencode(
        ".jpg", np.full((48, 64, 3), 50, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    )
    assert ok and read_jpeg_header(prog.tobytes()).progressive


def test_a_tiny_file_claiming_a_huge_frame_is_refused_from_its_header() -> None:
    ok, prog = cv2.imencode(
        ".jpg", np.zeros((8, 8, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    )
    assert ok
    bomb = _claiming(prog.tobytes(), 60000, 60000)
    assert len(bomb) < 1000
    with pytest.raises(RejectedRecord) as e:
        decode_frame(bomb, max_pixels=7680 * 4320)
    assert e.value.reason == "oversized_frame" and "60000x60000" in e.value.detail


def test_progressive_frames_have_their_own_bound() -> None:
    img = np.full((300, 400, 3), 70, np.uint8)
    ok, prog = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    assert decode_frame(prog.tobytes(), 200_000, 200_000).shape == (300, 400, 3)
    with pytest.raises(RejectedRecord) as e:
        decode_frame(prog.tobytes(), max_pixels=200_000, max_progressive_pixels=100_000)
    assert e.value.reason == "oversized_frame" and "progressive" in e.value.detail
    assert decode_frame(_jpeg(400, 300), 200_000, 100_000).shape == (300, 400, 3)  # baseline


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff\xd9", b"\xff\xd8\xff\xe0\x00\x01rest", b"\xff\xd8\x00\x00\x00\x00\x00"],
    ids=["no-frame-header", "bad-length", "not-a-marker"],
)
def test_broken_marker_structure_is_undecodable(data: bytes) -> None:
    with pytest.raises(RejectedRecord) as e:
        decode_frame(data, max_pixels=10_000)
    assert e.value.reason == "undecodable_jpeg"


def test_a_frame_whose_size_disagrees_with_its_headers_is_refused() -> None:
    from citybrain.vision.decode import check_frame

    meta = FrameMeta(camera_id="cam-01", ts_ms=5, seq=2, width=64, height=48)
    assert check_frame(_jpeg(64, 48), meta, max_pixels=10_000).width == 64
    with pytest.raises(RejectedRecord) as e:
        check_frame(_jpeg(48, 64), meta, max_pixels=10_000)
    assert e.value.reason == "frame_size_mismatch"
    assert "48x64" in e.value.detail and "64x48" in e.value.detail
    # The bomb is still refused as a bomb, from the header alone, whatever the headers say.
    bomb = _claiming(_jpeg(64, 48), 60000, 60000)
    big = meta.model_copy(update={"width": 16384, "height": 16384})
    with pytest.raises(RejectedRecord) as e:
        check_frame(bomb, big, max_pixels=7680 * 4320)
    assert e.value.reason == "oversized_frame"
