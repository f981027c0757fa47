"""Validate a frame record and decode its JPEG, rejecting what cannot be trusted."""

from __future__ import annotations

import cv2
import numpy as np
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


def check_jpeg(data: bytes, max_pixels: int) -> np.ndarray:
    """The frame's bytes as a buffer once its magic and header size pass; a bomb is refused
    from the header alone, before anything is expanded."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        what = next((name for magic, name in _MAGIC.items() if data.startswith(magic)), None)
        raise RejectedRecord("undecodable_jpeg", f"not a JPEG: {what or 'bad magic bytes'}")
    buf = np.frombuffer(data, np.uint8)
    ended = data.rstrip(b"\0").endswith(b"\xff\xd9")
    header = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if header is None:
        hint = "" if ended else " (no end-of-image marker: truncated?)"
        raise RejectedRecord("undecodable_jpeg", f"JPEG could not be decoded{hint}")
    if header.shape[0] * header.shape[1] * 64 > max_pixels:
        raise RejectedRecord(
            "oversized_frame", f"about {header.shape[1] * 8}x{header.shape[0] * 8}"
        )
    return buf


def decode_frame(data: bytes, max_pixels: int) -> np.ndarray:
    """uint8 BGR (H, W, 3), or (H, W) for a greyscale JPEG: the preprocessing takes both, so a
    grey frame is never expanded to three channels first."""
    img = cv2.imdecode(check_jpeg(data, max_pixels), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RejectedRecord("undecodable_jpeg", "JPEG could not be decoded")
    if img.dtype != np.uint8:
        raise RejectedRecord("unsupported_pixels", f"{img.dtype} samples, expected 8-bit")
    if img.ndim == 3 and img.shape[2] != 3:  # e.g. CMYK: let OpenCV convert it
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise RejectedRecord("undecodable_jpeg", "JPEG could not be decoded")
    return img

