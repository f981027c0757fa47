"""Hot spots: tickets about one matter (category) in one area arriving unusually fast.

Counts live in event-time buckets per (category, area). The recent window is judged against a
rolling baseline of the buckets before it: an area is hot when the window holds at least
`min_count` tickets and `growth_ratio` times what the baseline predicts for a window (never
less than `min_expected`, so a quiet area needs a real burst, not one extra call). Replaying a
ticket changes nothing (ids are remembered per bucket); pure, no clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from citybrain.core.ids import hotspot_id
from citybrain.core.params import HotspotParams


@dataclass(frozen=True)
class HotspotAlert:
    id: str
    category: str
    district: str | None
    cell: str
    opened_at: datetime
    updated_at: datetime
    count: int
    baseline: float
    status: str = "open"  # open | closed
    detail: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass
class _Area:
    district: str | None
    buckets: Counter[int] = field(default_factory=Counter)
    seen: dict[int, set[str]] = field(default_factory=dict)
    newest: int = 0


def area_of(cell: str | None, district: str | None) -> str:
    """A point's area cell, or the whole district when the report named only that."""
    if cell:
        return cell
    return f"district:{district}" if district else "unlocated"


class HotspotDetector:
    def __init__(self, settings: HotspotParams) -> None:
        self.settings = settings
        self._areas: dict[tuple[str, str], _Area] = {}
        self.alerts: dict[tuple[str, str], HotspotAlert] = {}

    def load(self, alerts: Iterable[HotspotAlert]) -> None:
        """Open alerts from the store, so a restart updates them instead of raising twins."""
        self.alerts = {(a.category, a.cell): a for a in alerts if a.is_open}

    def add(
        self, obs_id: str, category: str, area: str, district: str | None, at: datetime
    ) -> HotspotAlert | None:
        """Count one ticket; the alert when this opened or grew one, else None."""
        key = (category, area)
        st = self._areas.setdefault(key, _Area(district))
        b = self._bucket(at)
        ids = st.seen.setdefault(b, set())
        if obs_id in ids:
            return None
        ids.add(obs_id)
        st.buckets[b] += 1
        st.newest = max(st.newest, b)
        self._prune(st)
        count, expected = self._window(st, st.newest)
        alert = self.alerts.get(key)
        if alert is None:
            if not self._hot(count, expected):
                return None
            opened_bucket = st.newest
            alert = HotspotAlert(
                id=hotspot_id(category, area, opened_bucket),
                category=category,
                district=district,
                cell=area,
                opened_at=at,
                updated_at=at,
                count=count,
                baseline=round(expected, 3),
            )
        else:
            alert = replace(
                alert,
                updated_at=max(alert.updated_at, at),
                count=max(alert.count, count),
                baseline=round(expected, 3),
            )
        alert = replace(alert, detail=self._detail(count, expected))
        self.alerts[key] = alert
        return alert

    def expire(self, watermark: datetime) -> list[HotspotAlert]:
        """Close alerts whose area has cooled down by the watermark."""
        done = []
        b = self._bucket(watermark)
        for key, alert in list(self.alerts.items()):
            st = self._areas.get(key)
            count, expected = self._window(st, b) if st else (0, 0.0)
            if not self._hot(count, expected):
                closed = replace(
                    alert,
                    status="closed",
                    updated_at=max(alert.updated_at, watermark),
                    detail=self._detail(count, expected) + "; cooled down",
                )
                del self.alerts[key]
                done.append(closed)
        return done

    def _bucket(self, at: datetime) -> int:
        return math.floor(at.astimezone(UTC).timestamp() / self.settings.bucket_s)

    def _window(self, st: _Area, newest: int) -> tuple[int, float]:
        w, base = self.settings.window_buckets, self.settings.baseline_buckets
        count = sum(n for b, n in st.buckets.items() if newest - w < b <= newest)
        before = sum(n for b, n in st.buckets.items() if newest - w - base < b <= newest - w)
        return count, before / base * w

    def _hot(self, count: int, expected: float) -> bool:
        s = self.settings
        return count >= s.min_count and count >= s.growth_ratio * max(expected, s.min_expected)

    def _prune(self, st: _Area) -> None:
        oldest = st.newest - self.settings.window_buckets - self.settings.baseline_buckets
        for b in [b for b in st.buckets if b <= oldest]:
            del st.buckets[b]
            st.seen.pop(b, None)

    def _detail(self, count: int, expected: float) -> str:
        window_min = self.settings.window_buckets * self.settings.bucket_s / 60
        return f"{count} tickets in {window_min:.0f} min; baseline expects {expected:.1f}"


def top_recurring(
    counts: Mapping[tuple[str, str], int], top: int
) -> dict[str, list[tuple[str, int]]]:
    """(district, category) -> count, as each district's `top` categories, most first
    (ties by category id, so the digest is stable)."""
    by_district: dict[str, list[tuple[str, int]]] = {}
    for (district, category), n in counts.items():
        by_district.setdefault(district, []).append((category, n))
    return {
        d: sorted(items, key=lambda x: (-x[1], x[0]))[:top]
        for d, items in sorted(by_district.items())
    }
