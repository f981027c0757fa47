"""The load run's numbers, as pure functions of what it recorded: evidence-to-dispatch latency,
whether each job's lag stayed bounded and whether its resident memory stayed flat (the soak).
Kept apart from the run so the criteria are tested on their own and stated once."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

# "Bounded": over the last third of the sending the lag does not sit higher than over the
# middle third (means, so one sample landing on a burst in flight, e.g. all cameras' frames of
# one instant, is not taken for growth), the least-squares line through the last third does
# not climb by more than the margin, and after sending stops the lag is back to 0 within
# DRAIN_LIMIT_S.
MARGIN_RECORDS = 10
MARGIN_SHARE = 0.2  # of the middle third's max, when that is larger
DRAIN_LIMIT_S = 60.0
CRITERION = (
    "per job: mean lag over the last third of the sending <= mean over the middle third + "
    "margin, and the linear fit over the last third rises by <= margin, where margin = "
    f"max({MARGIN_RECORDS} records, {MARGIN_SHARE:.0%} of the middle third's max); and the "
    f"lag is 0 again within {DRAIN_LIMIT_S:.0f} s after sending stops"
)
FOLLOW_UP_HEADER = "follow-up"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p99 and max in seconds (None without values)."""
    if not values:
        return {"count": 0, "p50_s": None, "p99_s": None, "max_s": None}
    return {
        "count": len(values),
        "p50_s": round(percentile(values, 50), 3),
        "p99_s": round(percentile(values, 99), 3),
        "max_s": round(max(values), 3),
    }


def first_dispatches(records: Iterable[tuple[int, Mapping[str, bytes], bytes]]) -> dict[str, int]:
    """Incident id -> Kafka timestamp (ms) of its first dispatch record. Summary follow-ups
    (the `follow-up` header) repeat a dispatch later and are not the dispatch."""
    first: dict[str, int] = {}
    for ts_ms, headers, value in records:
        if FOLLOW_UP_HEADER in headers:
            continue
        incident = json.loads(value)["incident_id"]
        if incident not in first or ts_ms < first[incident]:
            first[incident] = ts_ms
    return first


def dispatch_latencies(
    first: Mapping[str, int], opened: Mapping[str, datetime], opened_by: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Seconds from each incident's opening (the event time of its first evidence) to its first
    dispatch, overall and by the source that opened it (camera, ticket)."""
    by: dict[str, list[float]] = {"all": []}
    for incident, ts_ms in first.items():
        if incident not in opened:
            continue
        s = ts_ms / 1000.0 - opened[incident].timestamp()
        by["all"].append(s)
        by.setdefault(opened_by.get(incident, "unknown"), []).append(s)
    return {k: latency_summary(v) for k, v in sorted(by.items())}


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over t (0 for fewer than two distinct times)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in points) / var


def _mean(points: Sequence[tuple[float, int]]) -> float:
    return sum(y for _, y in points) / len(points) if points else 0.0


def lag_verdict(series: Sequence[tuple[float, int]], send_end_s: float) -> dict[str, Any]:
    """One job's lag samples (seconds since sending began, records) judged by CRITERION."""
    middle = [(t, y) for t, y in series if send_end_s / 3 <= t < 2 * send_end_s / 3]
    last = [(t, y) for t, y in series if 2 * send_end_s / 3 <= t <= send_end_s]
    after = [(t, y) for t, y in series if t > send_end_s]
    mid_max = max((y for _, y in middle), default=0)
    margin = max(MARGIN_RECORDS, MARGIN_SHARE * mid_max)
    mid_mean, last_mean = _mean(middle), _mean(last)
    k = slope(last)
    rise = k * (last[-1][0] - last[0][0]) if len(last) > 1 else 0.0
    drained = next((t - send_end_s for t, y in after if y == 0), None)
    not_growing = bool(middle and last) and last_mean <= mid_mean + margin and rise <= margin
    in_time = drained is not None and drained <= DRAIN_LIMIT_S
    return {
        "max": max((y for _, y in series), default=0),
        "max_middle_third": mid_max,
        "max_last_third": max((y for _, y in last), default=0),
        "mean_middle_third": round(mid_mean, 2),
        "mean_last_third": round(last_mean, 2),
        "margin": round(margin, 1),
        "slope_last_third_per_s": round(k, 4),
        "drained_after_s": None if drained is None else round(drained, 1),
        "not_growing": not_growing,
        "drained_in_time": in_time,
        "bounded": not_growing and in_time,
    }


# "Flat" (the soak's memory criterion): the warm-up is left out (imports, caches filling, the
# first incidents), then a least-squares line through each job's RSS; its growth over the
# measured span must stay below the allowance.
WARM_UP_SHARE = 0.2  # of the sending span
WARM_UP_MIN_S = 180.0
FLAT_SHARE = 0.05  # of the warm RSS, when that is larger
FLAT_MIB = 20.0
MEMORY_CRITERION = (
    "per job: after a warm-up of max(3 minutes, 20% of the sending span), the least-squares "
    "line through the resident memory (RSS) samples up to the end of sending grows by less "
    f"than max({FLAT_MIB:.0f} MiB, {FLAT_SHARE:.0%} of the warm RSS) over the measured span; "
    "the warm RSS is the first sample after the warm-up"
)


def warm_up_s(send_end_s: float) -> float:
    """Seconds at the start of the sending that the memory verdict leaves out."""
    return max(WARM_UP_MIN_S, WARM_UP_SHARE * send_end_s)


def memory_verdict(series: Sequence[tuple[float, float]], send_end_s: float) -> dict[str, Any]:
    """One job's RSS samples (seconds since sending began, MiB) judged by MEMORY_CRITERION.
    `flat` is None when fewer than two samples fall after the warm-up (a run too short to
    say), so a smoke run reports "not measured" rather than a verdict it cannot back."""
    start = warm_up_s(send_end_s)
    measured = [(t, y) for t, y in series if start <= t <= send_end_s]
    base: dict[str, Any] = {
        "warm_up_s": round(start, 1),
        "samples": len(measured),
        "max_rss_mib": round(max((y for _, y in series), default=0.0), 1),
    }
    if len(measured) < 2 or measured[-1][0] == measured[0][0]:
        return {
            **base,
            "warm_rss_mib": None,
            "last_rss_mib": None,
            "slope_mib_per_h": None,
            "fitted_growth_mib": None,
            "allowance_mib": None,
            "flat": None,
        }
    warm, last = measured[0][1], measured[-1][1]
    k = slope(measured)  # MiB per second
    growth = k * (measured[-1][0] - measured[0][0])
    allowance = max(FLAT_MIB, FLAT_SHARE * warm)
    return {
        **base,
        "warm_rss_mib": round(warm, 1),
        "last_rss_mib": round(last, 1),
        "slope_mib_per_h": round(k * 3600.0, 2),
        "fitted_growth_mib": round(growth, 2),
        "allowance_mib": round(allowance, 1),
        "flat": growth < allowance,
    }


def all_flat(verdicts: Mapping[str, Mapping[str, Any]]) -> bool | None:
    """False if any job grew; None if none was measured or any was not; True otherwise."""
    flats = [v["flat"] for v in verdicts.values()]
    if any(f is False for f in flats):
        return False
    if not flats or any(f is None for f in flats):
        return None
    return True


def series_summary(series: Sequence[tuple[float, int]]) -> dict[str, Any]:
    """First, last and largest value of a sampled gauge (None without samples)."""
    if not series:
        return {"first": None, "last": None, "max": None}
    return {"first": series[0][1], "last": series[-1][1], "max": max(y for _, y in series)}
