"""The load mode's pure parts: lag from offsets, the latency numbers and the bounded verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from citybrain.chaos.lag import group_lag
from citybrain.chaos.load_report import (
    DRAIN_LIMIT_S,
    MARGIN_RECORDS,
    dispatch_latencies,
    first_dispatches,
    lag_verdict,
    latency_summary,
    percentile,
    slope,
)


def test_lag_is_end_minus_committed_and_counts_uncommitted_partitions_from_their_start() -> None:
    end = {("t", 0): 10, ("t", 1): 7, ("t", 2): 5, ("u", 0): 3}
    committed = {("t", 0): 4, ("t", 2): 6}  # partition 2: committed read after a later end
    beginning = {("t", 1): 2}  # partition 1 never committed; u/0 neither, from 0
    assert group_lag(end, committed, beginning) == 6 + 5 + 0 + 3


def test_no_records_no_lag() -> None:
    assert group_lag({}, {}, {}) == 0
    assert group_lag({("t", 0): 0}, {}, {}) == 0


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_latency_summary_without_values_says_none() -> None:
    assert latency_summary([]) == {"count": 0, "p50_s": None, "p99_s": None, "max_s": None}
    assert latency_summary([2.0, 4.0])["p50_s"] == 3.0


def test_first_dispatch_per_incident_ignores_summary_follow_ups() -> None:
    def rec(ts: int, incident: str, follow_up: bool = False) -> tuple[int, dict[str, bytes], bytes]:
        headers = {"idempotency-key": b"k"} | ({"follow-up": b"summary"} if follow_up else {})
        return ts, headers, json.dumps({"incident_id": incident}).encode()

    got = first_dispatches(
        [rec(5000, "a", follow_up=True), rec(7000, "a"), rec(6000, "b"), rec(9000, "a")]
    )
    assert got == {"a": 7000, "b": 6000}


def test_latency_from_opening_to_first_dispatch_by_opening_source() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ms = round(t0.timestamp() * 1000)
    first = {"a": ms + 2000, "b": ms + 30_000, "c": ms + 4000, "gone": ms}
    opened = {"a": t0, "b": t0, "c": t0}
    by = {"a": "ticket", "b": "camera", "c": "ticket"}
    out = dispatch_latencies(first, opened, by)
    assert out["all"]["count"] == 3 and out["all"]["max_s"] == 30.0
    assert out["ticket"] == {"count": 2, "p50_s": 3.0, "p99_s": 3.98, "max_s": 4.0}
    assert out["camera"]["p50_s"] == 30.0


def test_slope_of_a_line_and_of_too_few_points() -> None:
    assert slope([(0.0, 1.0), (10.0, 21.0), (20.0, 41.0)]) == pytest.approx(2.0)
    assert slope([(5.0, 3.0)]) == 0.0
    assert slope([(5.0, 3.0), (5.0, 9.0)]) == 0.0


def flat(send_end: float, level: int, after: list[tuple[float, int]]) -> list[tuple[float, int]]:
    return [(float(t), level) for t in range(0, int(send_end) + 1, 5)] + after


def test_flat_lag_that_drains_is_bounded() -> None:
    v = lag_verdict(flat(60, 4, [(65.0, 2), (70.0, 0)]), send_end_s=60.0)
    assert v["not_growing"] and v["drained_in_time"] and v["bounded"]
    assert v["drained_after_s"] == 10.0 and v["max"] == 4


def test_lag_growing_in_the_last_third_is_not_bounded() -> None:
    series = [(float(t), t) for t in range(0, 61, 5)] + [(65.0, 0)]  # +1 record a second
    v = lag_verdict(series, send_end_s=60.0)
    assert not v["not_growing"] and not v["bounded"]
    assert v["slope_last_third_per_s"] == pytest.approx(1.0)


def test_lag_that_never_drains_is_not_bounded() -> None:
    late = DRAIN_LIMIT_S + 5
    v = lag_verdict(flat(60, 3, [(60.0 + late, 0)]), send_end_s=60.0)
    assert v["not_growing"] and not v["drained_in_time"] and not v["bounded"]
    assert not lag_verdict(flat(60, 3, [(70.0, 3)]), 60.0)["drained_in_time"]


def test_a_rise_within_the_margin_is_still_bounded() -> None:
    series = [*flat(40, 5, []), (45.0, 5 + MARGIN_RECORDS), (60.0, 5), (65.0, 0)]
    assert lag_verdict(series, send_end_s=60.0)["bounded"]


def test_one_sample_on_a_burst_in_flight_is_not_growth() -> None:
    # all 12 cameras send at one instant; a sample just after sees them all uncommitted
    series = [(float(t), 12 if t == 50 else 0) for t in range(0, 61, 5)] + [(65.0, 0)]
    v = lag_verdict(series, send_end_s=60.0)
    assert v["max_last_third"] == 12 and v["max_middle_third"] == 0
    assert v["not_growing"] and v["bounded"]
