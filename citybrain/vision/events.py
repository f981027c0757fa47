"""Camera events in the vision stage: track objects, run the event rules, and turn what the
rules decided into observations. Frames are keyed by camera, so each camera's tracker and rule
state live in exactly one vision worker.

Only frames where a rule opens, continues or clears an event become observations; a single
frame that counts, or a single quiet frame in a running event, produces nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np

from citybrain.config import Settings
from citybrain.core.camera_rules import CameraRules, RuleDecision
from citybrain.core.cells import cell_of, cell_partition_key
from citybrain.core.city import Camera, City
from citybrain.core.ids import camera_observation_id
from citybrain.core.messages import Detection, FrameMeta, GeoPoint, Observation
from citybrain.core.zones import class_categories, evidence_by_category
from citybrain.vision.detections import Detections
from citybrain.vision.tracking import CameraTrackers


class CameraEvents:
    def __init__(self, settings: Settings, city: City, stats: Counter[str]) -> None:
        self.city = city
        self.classes = class_categories(city)
        self.rules = CameraRules(city, settings.rules)
        self.trackers = CameraTrackers()
        self.cell_resolution = settings.incidents.partition_resolution
        self.private_classes = frozenset(settings.web.person_classes + settings.web.plate_classes)
        self.stats = stats
        self._last_ts_ms: dict[str, int] = {}
        self.clock_reset_ms = int(settings.rules.clock_reset_s * 1000)

    def knows(self, camera_id: str) -> bool:
        """Whether this process has seen a frame of the camera (and holds its memory)."""
        return camera_id in self._last_ts_ms

    def observe(
        self,
        camera: Camera,
        meta: FrameMeta,
        dets: Detections,
        frame_ref: str | None,
        scene_scores: Mapping[str, float] | None = None,
        embedding: np.ndarray | None = None,
    ) -> list[tuple[str, Observation]]:
        """(Kafka key, observation) for every rule decision this frame produced."""
        last = self._last_ts_ms.get(camera.id)
        if last is not None and last - meta.ts_ms >= self.clock_reset_ms:
            # The camera's clock was set back (a reset, a battery, a bad NTP answer): skipping
            # its frames as stale would blind it until its clock passed the old time again.
            self.stats["camera_clock_resets"] += 1
            self.rules.forget(camera.id)
            self.trackers.forget(camera.id)
        elif last is not None and meta.ts_ms <= last:
            # Older than a frame already seen: the rules would ignore it, and the tracker's
            # motion model must not see time run backwards either.
            self.stats["stale_frames"] += 1
            return []
        self._last_ts_ms[camera.id] = meta.ts_ms
        tracked = self.trackers.update(camera.id, dets)
        evidence = evidence_by_category(
            camera,
            tracked.class_names,
            tracked.confidence,
            tracked.xyxyn,
            self.classes,
            tracked.tracker_id,
        )
        at = datetime.fromtimestamp(meta.ts_ms / 1000, UTC)
        decisions = self.rules.step(camera.id, at, evidence, scene_scores)
        out = []
        kept = tuple(round(float(x), 5) for x in embedding) if embedding is not None else ()
        private = self._private(dets) if decisions else ()
        for d in decisions:
            obs = self._observation(camera, meta, d, frame_ref, kept, private)
            self.stats["observations"] += 1
            self.stats[f"camera_events.{d.state}"] += 1
            assert obs.cell is not None
            out.append((cell_partition_key(obs.cell), obs))
        return out

    def _private(self, dets: Detections) -> tuple[Detection, ...]:
        """The frame's people and vehicles, for whoever shows the frame to hide them."""
        mine = dets[dets.class_mask(self.private_classes)]
        return tuple(
            Detection(
                cls=c,
                confidence=round(float(p), 4),
                box=tuple(round(float(v), 5) for v in b),
            )
            for c, p, b in zip(mine.class_names, mine.confidence, mine.xyxyn, strict=True)
        )

    def _observation(
        self,
        camera: Camera,
        meta: FrameMeta,
        d: RuleDecision,
        frame_ref: str | None,
        embedding: tuple[float, ...] = (),
        private: tuple[Detection, ...] = (),
    ) -> Observation:
        location = GeoPoint(lon=camera.lon, lat=camera.lat)
        return Observation(
            id=camera_observation_id(camera.id, meta.seq, d.category, d.zone, d.at),
            source="camera",
            source_id=camera.id,
            category=d.category,
            confidence=d.confidence,
            observed_at=d.at,
            location=location,
            district=camera.district,
            precision="point",
            detections=d.detections,
            privacy_boxes=private,  # a cleared event's frame is shown too: hide its people
            frame_ref=frame_ref,
            rule_id=d.rule_id,
            rule_state=d.state,
            event_id=d.event_id,
            event_opened_at=d.opened_at,
            zone=d.zone,
            count=d.count,
            track_ids=d.track_ids,
            dwell_s=d.dwell_s,
            scene_score=d.scene_score,
            embedding=embedding,
            cell=cell_of(self.city, location, camera.district, self.cell_resolution),
        )
