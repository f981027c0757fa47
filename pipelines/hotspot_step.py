"""The incident job's hot-spot part: count tickets, raise and close alerts, emit digests.

Alerts are upserted into the store's `hotspots` table (what the dashboard reads) and sent to
`<prefix>.alerts`; at each `digest_every_s` boundary of event time a digest of the top
recurring issues by district goes to the same topic. Counts are rebuilt from the store's ticket
evidence after a restart or rebalance, so a burst that straddles a restart is still seen as one.

Several incident workers each hold some areas (cells key partitions) but load every open alert:
a worker closes only alerts of areas whose tickets it has received since it loaded, or of areas
the store has no ticket for in the whole window (no worker is keeping them alive). Digests are
keyed by their period (`digest:<n>`), so the copies several workers send are one digest to a
consumer that keeps the idempotency key.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from citybrain.config import Settings
from citybrain.core.cells import area_cell
from citybrain.core.hotspots import HotspotAlert, HotspotDetector, area_of
from citybrain.core.messages import GeoPoint, Observation
from citybrain.store import Store
from citybrain.store.outbox import Outbox
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
        self._period: int | None = None  # digest period of the last tick
        self._live: set[tuple[str, str]] = set()  # (category, area) with tickets since reload
        self._span = timedelta(
            seconds=(self.settings.window_buckets + self.settings.baseline_buckets)
            * self.settings.bucket_s
        )
        self._window = timedelta(seconds=self.settings.window_buckets * self.settings.bucket_s)

    def reload(self, lookback_s: float, watermark: datetime | None = None) -> None:
        """Open alerts and recent ticket counts from the store; `watermark` (the newest stored
        evidence) sets the digest period already covered before this start."""
        self.detector = HotspotDetector(self.settings)
        self.detector.load(self.store.open_hotspot_alerts())
        self._live = set()
        self._period = self._period_of(watermark) if watermark else None
        since = datetime.now(UTC) - timedelta(seconds=lookback_s) - self._span
        for ev, district, area in self._stored_tickets(since):
            self.detector.add(ev.observation_id, ev.category, area, district, ev.observed_at)

    def _stored_tickets(self, since: datetime) -> Iterator[tuple[Any, str | None, str]]:
        """Ticket evidence in the store since a time, with the hot-spot area of each."""
        for ev, district in self.store.ticket_evidence_since(since):
            point = (
                GeoPoint(lon=ev.lon, lat=ev.lat)
                if ev.lon is not None and ev.lat is not None
                else None
            )
            yield ev, district, area_of(area_cell(point, self.settings.resolution), district)

    def add(self, obs: Observation) -> list[Output]:
        area = area_of(area_cell(obs.location, self.settings.resolution), obs.district)
        self._live.add((obs.category, area))
        alert = self.detector.add(obs.id, obs.category, area, obs.district, obs.observed_at)
        if alert is None:
            return []
        self.stats["hotspot_alert_changes"] += 1
        return self._emit(alert)

    def tick(self, watermark: datetime) -> list[Output]:
        out: list[Output] = []
        alive: set[tuple[str, str]] | None = None  # areas with stored tickets in the window
        for alert in self.detector.expire(watermark):
            stored = self.store.hotspot(alert.id)
            if stored is not None and stored.count > alert.count:
                continue  # another worker holds this area now and the alert grew there
            if (alert.category, alert.cell) not in self._live:
                if alive is None:
                    recent = self._stored_tickets(watermark - self._window)
                    alive = {(ev.category, area) for ev, _, area in recent}
                if (alert.category, alert.cell) in alive:
                    continue  # another worker's area, still getting tickets: theirs to close
            self.stats["hotspot_alerts_closed"] += 1
            out += self._emit(alert)
        # A digest when event time crosses a period boundary (or on a fresh store's first
        # tick); a restart does not send the current period's digest again.
        period = self._period_of(watermark)
        if self._period is None or period > self._period:
            self._period = period
            out += self._digest(watermark, period)
        return out

    def _period_of(self, at: datetime) -> int:
        return int(at.timestamp() // self.settings.digest_every_s)

    def _digest(self, watermark: datetime, period: int) -> list[Output]:
        digest = self.store.digest(
            since=watermark - timedelta(days=7), top=self.settings.digest_top
        )
        if not digest:
            return []
        self.stats["digests"] += 1
        body = {
            "type": "digest",
            "period": period,
            "at": watermark.isoformat(),
            "districts": digest,
        }
        return [
            Output(
                topic=self.topics.alerts,
                key=b"digest",
                value=json.dumps(body, ensure_ascii=False).encode(),
                headers=[("idempotency-key", f"digest:{period}".encode())],
            )
        ]

    def sink(self, outbox: Outbox | None = None, messages: Sequence[Output] = ()) -> None:
        """Store the alerts, with the messages announcing them (in `outbox`, same transaction)."""
        if self._pending or messages:
            self.store.write_hotspots(self._pending.values(), outbox, messages)
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
