"""The camera frame behind a piece of evidence, with boxes and zones drawn and people blurred.

Frames are read back from Kafka by the evidence's `frame_ref` (topic/partition/offset) rather
than copied into the store: the only copy of a raw frame stays in the frames topic under its
retention, nothing unblurred is ever written by the web, and the vision hot path does no extra
work. When retention has dropped the frame, the page says so.

People and plates: the vision job keeps the frame's person and vehicle boxes with each
observation (`privacy_boxes`), and every mode hides people whole and the lower half of every
vehicle (web/privacy.py states the rule). The default (`web.snapshot_blur: background`) also
blurs everything outside the evidence boxes, which covers a person the detector missed; `people`
mode falls back to it for any frame without a privacy record (a detector without a person class).
Both are mosaics (web/privacy.py): a Gaussian blur of a fixed kernel leaves a close-up face
readable. The frame is decoded by the vision job's own decoder (`vision.decode.decode_frame`,
EXIF orientation applied once), so the boxes land on the pixels the detector saw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import cv2
import numpy as np
from kafka import KafkaConsumer, TopicPartition

from citybrain.config.kafka import KafkaSettings
from citybrain.config.vision import VisionSettings
from citybrain.core.city import Camera
from citybrain.errors import RejectedRecord
from citybrain.vision.decode import decode_frame
from citybrain.web.privacy import BACKGROUND_BLOCKS, hide, hide_private

log = logging.getLogger(__name__)
# The vision job's default limits: a frame it would refuse is not decoded here either.
FRAME_LIMITS: tuple[int, int] = (
    VisionSettings.model_fields["max_frame_pixels"].default,
    VisionSettings.model_fields["max_progressive_pixels"].default,
)
_COLOURS = [(0, 200, 255), (255, 160, 0), (60, 220, 60), (255, 80, 200), (80, 80, 255)]


class FrameReader:
    """One record by reference, with a small cache (a page asks for the same frame repeatedly),
    kept under a lock: snapshot requests run in the server's thread pool."""

    def __init__(self, settings: KafkaSettings, frames_topic: str, cache: int = 64) -> None:
        self.settings = settings
        self.frames_topic = frames_topic
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.cache_size = cache
        self._lock = threading.Lock()

    def read(self, ref: str, timeout_s: float = 5.0) -> bytes | None:
        with self._lock:
            if ref in self.cache:
                self.cache.move_to_end(ref)
                return self.cache[ref]
        try:
            topic, part, off = ref.rsplit("/", 2)
            partition, offset = int(part), int(off)
        except ValueError:
            return None
        if topic != self.frames_topic:  # never read another topic on a page's behalf
            return None
        value = self._fetch(TopicPartition(topic, partition), offset, timeout_s)
        if value is not None:  # a miss may be a passing outage: ask again next time
            with self._lock:
                self.cache[ref] = value
                while len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
        return value

    def _fetch(self, tp: TopicPartition, offset: int, timeout_s: float) -> bytes | None:
        try:
            c = KafkaConsumer(
                bootstrap_servers=self.settings.bootstrap_servers,
                enable_auto_commit=False,
                fetch_max_bytes=self.settings.max_request_bytes,
                max_partition_fetch_bytes=self.settings.max_request_bytes,
                request_timeout_ms=int(timeout_s * 1000) + 1000,
                **self.settings.client_options(),
            )
        except Exception as e:  # broker unreachable: the page shows "not available"
            log.warning("frame %s/%s: %s", tp, offset, e)
            return None
        try:
            c.assign([tp])
            c.seek(tp, offset)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for recs in c.poll(timeout_ms=500).values():
                    for r in recs:
                        if r.offset == offset:
                            return bytes(r.value)
                        if r.offset > offset:  # compacted or expired
                            return None
            return None
        finally:
            c.close()


def render(
    jpeg: bytes,
    detections: list[dict[str, Any]],
    camera: Camera | None,
    mode: str,
    person_classes: tuple[str, ...],
    plate_classes: tuple[str, ...] = (),
    privacy_boxes: list[dict[str, Any]] | None = None,
    limits: tuple[int, int] = FRAME_LIMITS,
) -> bytes | None:
    """JPEG with privacy blur first, then zones and boxes on top; None if it does not decode.
    `limits`: the vision job's max_frame_pixels and max_progressive_pixels."""
    try:
        img = decode_frame(jpeg, *limits)
    except RejectedRecord:
        return None
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]

    def px(box: Any) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = (float(v) for v in box)
        return (
            max(0, int(x1 * w)),
            max(0, int(y1 * h)),
            min(w, int(np.ceil(x2 * w))),
            min(h, int(np.ceil(y2 * h))),
        )

    boxes = [(d, px(d["box"])) for d in detections if len(d.get("box", ())) == 4]
    # "people" trusts the detector to have found every person; a frame without a privacy
    # record or a person box (a detector without person or vehicle classes, or older
    # evidence) cannot show that, so it is blurred like "background" unless proven harmless.
    vouched = bool(privacy_boxes) or any(d.get("cls") in person_classes for d in detections)
    if mode == "background" or not vouched:
        out = img.copy()
        hide(out, 0, 0, w, h, BACKGROUND_BLOCKS)
        for d, (x1, y1, x2, y2) in boxes:
            if d.get("cls") not in person_classes and x2 > x1 and y2 > y1:
                out[y1:y2, x1:x2] = img[y1:y2, x1:x2]
        img = out
    private = [
        (str(d.get("cls")), (float(x1), float(y1), float(x2), float(y2)))
        for d in [*detections, *(privacy_boxes or [])]
        if len(d.get("box", ())) == 4
        for x1, y1, x2, y2 in [d["box"]]
    ]
    hide_private(img, private, person_classes, plate_classes)
    if camera is not None:
        for i, z in enumerate(camera.zones):
            pts = np.array([[int(x * w), int(y * h)] for x, y in z.polygon], np.int32)
            cv2.polylines(img, [pts], True, _COLOURS[i % len(_COLOURS)], 1, cv2.LINE_AA)
            cv2.putText(
                img,
                z.id,
                tuple(pts[0] + [3, -4]),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                _COLOURS[i % len(_COLOURS)],
                1,
                cv2.LINE_AA,
            )
    for d, (x1, y1, x2, y2) in boxes:
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 255), 2)
        label = f"{d.get('cls', '?')} {float(d.get('confidence', 0)):.2f}"
        if d.get("zone"):
            label += f" @{d['zone']}"
        cv2.putText(
            img,
            label,
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 255),
            1,
            cv2.LINE_AA,
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return bytes(buf) if ok else None
