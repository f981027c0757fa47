"""The incident job's hot-spot part: count tickets, raise and close alerts, emit digests.

Alerts are upserted into the store's `hotspots` table (what the dashboard reads) and sent to
`<prefix>.alerts`; every `digest_every_s` of event time a digest of the top recurring issues by
district goes to the same topic. Counts are rebuilt from the store's ticket evidence after a
restart or rebalance, so a burst that straddles a restart is still seen as one.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from citybrain.config import Settings
from citybrain.core.cells import area_cell
from citybrain.core.hotspots import HotspotAlert, HotspotDetector, area_of
from citybrain.core.messages import GeoPoint, Observation
from citybrain.store import Store
from citybrain.streams.records import Output
from citybrain.streams.topics import Topics


class HotspotStep:
    def __init__(
        self, settings: Settings, topics: Topics, store: Store, stats: Counter[str]
    ) -> None:
        self.settings = settings.hotspots
        self.topics = topics
        self.store = store
        self.stats = stats
        self.detector = HotspotDetector(self.settings)
        self._pending: dict[str, HotspotAlert] = {}
        self._last_digest: datetime | None = None

    def reload(self, lookback_s: float) -> None:
        """Open alerts and recent ticket counts from the store."""
        self.detector = HotspotDetector(self.settings)
        self.detector.load(self.store.open_hotspot_alerts())
        span = (
            self.settings.window_buckets + self.settings.baseline_buckets
        ) * self.settings.bucket_s
        since = datetime.now(UTC) - timedelta(seconds=lookback_s + span)
        for ev, district in self.store.ticket_evidence_since(since):
            point = (
                GeoPoint(lon=ev.lon, lat=ev.lat)
                if ev.lon is not None and ev.lat is not None
                else None
            )
            area = area_of(area_cell(point, self.settings.resolution), district)
            self.detector.add(ev.observation_id, ev.category, area, district, ev.observed_at)

    def add(self, obs: Observation) -> list[Output]:
        area = area_of(area_cell(obs.location, self.settings.resolution), obs.district)
        alert = self.detector.add(obs.id, obs.category, area, obs.district, obs.observed_at)
        if alert is None:
            return []
        self.stats["hotspot_alert_changes"] += 1
        return self._emit(alert)

    def tick(self, watermark: datetime) -> list[Output]:
        out: list[Output] = []
        for alert in self.detector.expire(watermark):
            stored = self.store.hotspot(alert.id)
            if stored is not None and stored.count > alert.count:
                continue  # another worker holds this area now and the alert grew there
            self.stats["hotspot_alerts_closed"] += 1
            out += self._emit(alert)
        every = timedelta(seconds=self.settings.digest_every_s)
        if self._last_digest is None or watermark - self._last_digest >= every:
            self._last_digest = watermark
            digest = self.store.digest(
                since=watermark - timedelta(days=7), top=self.settings.digest_top
            )
            if digest:
                self.stats["digests"] += 1
                out.append(
                    Output(
                        topic=self.topics.alerts,
                        key=b"digest",
                        value=json.dumps(
                            {"type": "digest", "at": watermark.isoformat(), "districts": digest},
                            ensure_ascii=False,
                        ).encode(),
                    )
                )
        return out

    def sink(self) -> None:
        if self._pending:
            self.store.write_hotspots(self._pending.values())
            self._pending.clear()

    def _emit(self, alert: HotspotAlert) -> list[Output]:
        self._pending[alert.id] = alert
        body = {
            "type": "hotspot",
            "id": alert.id,
            "category": alert.category,
            "district": alert.district,
            "cell": alert.cell,
            "opened_at": alert.opened_at.isoformat(),
            "updated_at": alert.updated_at.isoformat(),
            "count": alert.count,
            "baseline": alert.baseline,
            "status": alert.status,
            "detail": alert.detail,
        }
        return [
            Output(
                topic=self.topics.alerts,
                key=alert.id.encode(),
                value=json.dumps(body, ensure_ascii=False).encode(),
                headers=[("idempotency-key", f"{alert.id}:{alert.count}:{alert.status}".encode())],
            )
        ]
