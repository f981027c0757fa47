"""Validate a frame record and decode its JPEG, rejecting what cannot be trusted.

`decode_frame` is the one decoder of camera frames: the vision job detects on its pixels and
the web draws and hides boxes on its pixels, so a box the detector gave lands on the same
pixels wherever the frame is shown. EXIF orientation is applied there, once, explicitly (the
decoder itself ignores it): OpenCV applies it by some read flags and not others, and nvJPEG not
at all, which let the detector and the snapshot see a rotated frame differently.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL.JpegImagePlugin import JpegImageFile
from pydantic import ValidationError

from citybrain.core.messages import FRAME_HEADERS, FrameMeta
from citybrain.errors import RejectedRecord


def parse_meta(headers: dict[str, bytes]) -> FrameMeta:
    missing = [h for h in FRAME_HEADERS if h not in headers]
    if missing:
        raise RejectedRecord("missing_headers", f"missing {', '.join(missing)}")
    try:
        return FrameMeta(**{h: headers[h].decode("utf-8", "replace") for h in FRAME_HEADERS})
    except ValidationError as e:
        raise RejectedRecord("invalid_headers", str(e.errors()[0]["msg"])) from e


_MAGIC = {b"\x89PNG": "a PNG image", b"GIF8": "a GIF image", b"RIFF": "a RIFF/WebP file"}
# Start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})


@dataclass(frozen=True)
class JpegHeader:
    width: int
    height: int
    progressive: bool


def read_jpeg_header(data: bytes) -> JpegHeader:
    """The frame size from the start-of-frame segment, found by walking the marker segments:
    no pixel is decoded, so a 282-byte file that claims 60000x60000 costs nothing."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise RejectedRecord("undecodable_jpeg", f"corrupt JPEG marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data, before any frame header
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            raise RejectedRecord("undecodable_jpeg", f"corrupt JPEG segment at byte {i}")
        if marker in _SOF:
            if i + 9 > n:
                break
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            if not (width and height):
                raise RejectedRecord("undecodable_jpeg", f"JPEG frame header says {width}x{height}")
            return JpegHeader(width, height, marker in _PROGRESSIVE)
        i += 2 + length
    raise RejectedRecord("undecodable_jpeg", "no JPEG frame header before the image data")


def check_header(
    data: bytes, max_pixels: int, max_progressive_pixels: int | None = None
) -> JpegHeader:
    """The JPEG's own frame header once its magic and size pass: a bomb is refused from the
    header bytes alone, before anything is expanded.

    Progressive JPEGs (cameras stream baseline) are decoded by holding the whole image's
    coefficients at once, so they get a smaller bound, `max_progressive_pixels`."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        what = next((name for magic, name in _MAGIC.items() if data.startswith(magic)), None)
        raise RejectedRecord("undecodable_jpeg", f"not a JPEG: {what or 'bad magic bytes'}")
    head = read_jpeg_header(data)
    limit = max_pixels
    if head.progressive and max_progressive_pixels is not None:
        limit = min(limit, max_progressive_pixels)
    if head.width * head.height > limit:
        kind = "progressive " if head.progressive else ""
        raise RejectedRecord(
            "oversized_frame", f"{kind}JPEG of {head.width}x{head.height} > {limit} pixels"
        )
    return head


def check_frame(
    data: bytes, meta: FrameMeta, max_pixels: int, max_progressive_pixels: int | None = None
) -> JpegHeader:
    """`check_header`, and the JPEG's size must be the one its Kafka headers declare. A camera
    whose frames disagree with their own headers is misconfigured or the record was altered
    on the way; either way its headers cannot be trusted, so the frame goes to the DLQ (where
    the camera's error count shows it) rather than being analysed."""
    head = check_header(data, max_pixels, max_progressive_pixels)
    if (head.width, head.height) != (meta.width, meta.height):
        raise RejectedRecord(
            "frame_size_mismatch",
            f"JPEG is {head.width}x{head.height}, headers say {meta.width}x{meta.height}",
        )
    return head


def check_jpeg(
    data: bytes, max_pixels: int, max_progressive_pixels: int | None = None
) -> np.ndarray:
    """The frame's bytes as a buffer once `check_header` passes. Whether the pixels decode is
    the decoder's to say (OpenCV's or nvJPEG's): a probe decode here would decode every good
    frame twice."""
    check_header(data, max_pixels, max_progressive_pixels)
    return np.frombuffer(data, np.uint8)


def _undecodable(data: bytes) -> RejectedRecord:
    ended = data.rstrip(b"\0").endswith(b"\xff\xd9")
    hint = "" if ended else " (no end-of-image marker: truncated?)"
    return RejectedRecord("undecodable_jpeg", f"JPEG could not be decoded{hint}")


_EXIF_ORIENTATION = 0x0112
# EXIF orientation → the OpenCV operations that show the stored pixels upright, in order.
_UPRIGHT: dict[int, tuple[int | str, ...]] = {
    2: ("flip_h",),
    3: (cv2.ROTATE_180,),
    4: ("flip_v",),
    5: ("transpose",),
    6: (cv2.ROTATE_90_CLOCKWISE,),
    7: (cv2.ROTATE_180, "transpose"),
    8: (cv2.ROTATE_90_COUNTERCLOCKWISE,),
}


def exif_orientation(data: bytes) -> int:
    """The JPEG's EXIF orientation (1-8; 1, upright, when absent or unreadable). Pillow's JPEG
    reader reads the header only, no pixels (its own class, not `Image.open`, which other
    libraries patch to go looking for more formats)."""
    try:
        with JpegImageFile(io.BytesIO(data)) as im:
            value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block (any of struct, key, type errors): as stored
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def upright(img: np.ndarray, orientation: int) -> np.ndarray:
    """The decoded pixels turned as the EXIF orientation says the image is to be seen."""
    for op in _UPRIGHT.get(orientation, ()):
        if op == "flip_h":
            img = cv2.flip(img, 1)
        elif op == "flip_v":
            img = cv2.flip(img, 0)
        elif op == "transpose":
            img = cv2.transpose(img)
        else:
            img = cv2.rotate(img, int(op))
    return img


def decode_frame(
    data: bytes, max_pixels: int, max_progressive_pixels: int | None = None
) -> np.ndarray:
    """uint8 BGR (H, W, 3), or (H, W) for a greyscale JPEG, upright (EXIF orientation
    applied): the preprocessing takes both, so a grey frame is never expanded to three
    channels first."""
    img = cv2.imdecode(check_jpeg(data, max_pixels, max_progressive_pixels), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise _undecodable(data)
    if img.dtype != np.uint8:
        raise RejectedRecord("unsupported_pixels", f"{img.dtype} samples, expected 8-bit")
    if img.ndim == 3 and img.shape[2] != 3:  # e.g. CMYK: let OpenCV convert it
        flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        if img is None:
            raise _undecodable(data)
    return upright(img, exif_orientation(data))
