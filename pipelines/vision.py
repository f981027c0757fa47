"""vision: check headers → decode JPEG → batch across cameras → YOLO → zones → observations."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.geo import partition_key
from citybrain.core.ids import stable_id
from citybrain.core.messages import FrameMeta, GeoPoint, Observation
from citybrain.core.zones import class_categories, evidence_by_category
from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord, Output
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch
from citybrain.vision.decode import decode_jpeg, parse_meta
from citybrain.vision.detections import Detections
from citybrain.vision.detector import Detector


class VisionStage:
    name = "vision"

    def __init__(self, settings: Settings, city: City, topics: Topics, detector: Detector) -> None:
        self.settings = settings.vision
        self.city = city
        self.topics = topics
        self.detector = detector
        self.classes = class_categories(city)
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        ready: list[tuple[InRecord, FrameMeta, np.ndarray]] = []
        for rec in records:
            try:
                meta, img = self._admit(rec)
            except RejectedRecord as err:
                batch.rejected.append((rec, err))
                continue
            ready.append((rec, meta, img))
        detections = self.detector.detect([img for _, _, img in ready]) if ready else []
        for (rec, meta, _), dets in zip(ready, detections, strict=True):
            self.stats["frames"] += 1
            self.stats["detections"] += len(dets)
            batch.outputs += self._observations(rec, meta, dets)
        return batch

    def _admit(self, rec: InRecord) -> tuple[FrameMeta, np.ndarray]:
        if len(rec.value) > self.settings.max_frame_bytes:
            raise RejectedRecord("oversized_frame", f"{len(rec.value)} bytes")
        meta = parse_meta(rec.headers)
        if meta.camera_id not in self.city.camera_by_id:
            raise RejectedRecord("unknown_camera", meta.camera_id)
        img = decode_jpeg(rec.value, self.settings.max_frame_pixels)
        if img.shape[:2] != (meta.height, meta.width):
            self.stats["size_mismatch"] += 1  # headers lie; the pixels are what we analyse
        return meta, img

    def _observations(self, rec: InRecord, meta: FrameMeta, dets: Detections) -> list[Output]:
        camera = self.city.camera_by_id[meta.camera_id]
        rows = [
            (c, float(p), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
            for c, p, b in zip(dets.class_names, dets.confidence, dets.xyxyn, strict=True)
        ]
        outs = []
        for category, evidence in sorted(evidence_by_category(camera, rows, self.classes).items()):
            obs = Observation(
                id=stable_id("obs", "camera", camera.id, meta.seq, category),
                source="camera",
                source_id=camera.id,
                category=category,
                confidence=max(d.confidence for d in evidence),
                observed_at=datetime.fromtimestamp(meta.ts_ms / 1000, UTC),
                location=GeoPoint(lon=camera.lon, lat=camera.lat),
                district=camera.district,
                precision="point",
                detections=tuple(evidence),
                frame_ref=rec.ref,
            )
            self.stats["observations"] += 1
            outs.append(
                Output(
                    topic=self.topics.observations,
                    key=partition_key(obs.district).encode(),
                    value=obs.model_dump_json().encode(),
                )
            )
        return outs

    def sink(self) -> None:
        """Nothing durable here: observations are produced before the commit."""

    def tick(self) -> Batch:
        return Batch()

    def on_assigned(self) -> None:
        """Stateless."""
