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


def decode_jpeg(data: bytes, max_pixels: int) -> np.ndarray:
    """BGR image; the JPEG header is checked before decoding so a bomb is never expanded."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise RejectedRecord("undecodable_jpeg", "not a JPEG (bad magic bytes)")
    buf = np.frombuffer(data, np.uint8)
    header = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if header is None:
        raise RejectedRecord("undecodable_jpeg", "JPEG could not be decoded")
    if header.shape[0] * header.shape[1] * 64 > max_pixels:
        raise RejectedRecord(
            "oversized_frame", f"about {header.shape[1] * 8}x{header.shape[0] * 8}"
        )
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise RejectedRecord("undecodable_jpeg", "JPEG could not be decoded")
    return img
