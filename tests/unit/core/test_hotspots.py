"""Hot-spot detection against a rolling baseline, and the recurring-issues digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config.hotspots import HotspotSettings
from citybrain.core.hotspots import HotspotDetector, area_of, top_recurring

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
S = HotspotSettings(
    bucket_s=600, window_buckets=3, baseline_buckets=12, min_count=4, growth_ratio=3
)


def feed(
    det: HotspotDetector, minutes: list[float], area: str = "cellA", cat: str = "noise"
) -> list[int]:
    """Counts of the alerts each ticket produced (0: none)."""
    out = []
    for m in minutes:
        a = det.add(f"{cat}-{area}-{m}", cat, area, "xicheng", T0 + timedelta(minutes=m))
        out.append(a.count if a else 0)
    return out


@pytest.mark.parametrize(
    ("minutes", "alerts"),
    [
        # A quiet area: 4 tickets in 20 minutes is a hot spot from the 4th on.
        ([100, 105, 110, 118, 119], [0, 0, 0, 4, 5]),
        # Spread over two hours, the same 4 tickets are not.
        ([0, 40, 80, 120], [0, 0, 0, 0]),
    ],
)
def test_bursts_in_a_quiet_area(minutes: list[float], alerts: list[int]) -> None:
    assert feed(HotspotDetector(S), minutes) == alerts


def test_a_busy_area_needs_growth_over_its_baseline() -> None:
    det = HotspotDetector(S)
    assert feed(det, [i * 10.0 for i in range(12)]) == [0] * 12  # one per bucket for 2 h
    # Baseline 10 tickets in 12 buckets: 2.5 expected per window; 4 more (6 in the window)
    # is under 3x, while the same 4 tickets in a quiet area are a hot spot.
    burst = [125.0, 126.0, 127.0, 128.0]
    assert feed(det, burst, area="busy") == [0, 0, 0, 4]
    det = HotspotDetector(S)
    feed(det, [i * 10.0 for i in range(12)], area="busy")
    assert feed(det, burst, area="busy") == [0, 0, 0, 0]
    assert feed(det, [129.0, 129.5, 129.8, 129.9, 129.95], area="busy")[-1] >= 8


def test_alert_ids_and_replay_are_stable_and_other_areas_independent() -> None:
    det = HotspotDetector(S)
    feed(det, [100, 101, 102, 103])
    (alert,) = det.alerts.values()
    assert alert.category == "noise" and alert.cell == "cellA" and alert.count == 4
    assert (
        det.add("noise-cellA-100", "noise", "cellA", "xicheng", T0 + timedelta(minutes=100)) is None
    )
    assert feed(det, [100, 101, 102], area="cellB") == [0, 0, 0]


def test_alerts_close_when_the_area_cools_down_and_reload() -> None:
    det = HotspotDetector(S)
    feed(det, [100, 101, 102, 103])
    assert det.expire(T0 + timedelta(minutes=110)) == []
    (closed,) = det.expire(T0 + timedelta(minutes=160))
    assert closed.status == "closed" and "cooled down" in closed.detail
    again = HotspotDetector(S)
    again.load([closed])
    assert again.alerts == {}


def test_area_of() -> None:
    assert area_of("87309a", "xicheng") == "87309a"
    assert area_of(None, "xicheng") == "district:xicheng"
    assert area_of(None, None) == "unlocated"


def test_top_recurring_is_ranked_and_stable() -> None:
    counts = {("a", "noise"): 3, ("a", "pothole"): 5, ("a", "flooding"): 3, ("b", "noise"): 1}
    assert top_recurring(counts, 2) == {"a": [("pothole", 5), ("flooding", 3)], "b": [("noise", 1)]}
