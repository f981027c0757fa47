"""Coverage against precision: how many tickets a router may dispatch on its own.

Sort predictions by confidence; dispatching everything at or above a threshold covers that
share of tickets with the precision of those predictions. The threshold a hotline can use is
the lowest one whose precision still meets the target, and its coverage is the number a
manager cares about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    coverage: float  # share of all tickets with confidence >= threshold
    precision: float  # share of those the router got right


@dataclass(frozen=True)
class Operating:
    """The threshold that meets `target` precision with the most coverage (None: none does)."""

    target: float
    threshold: float | None
    coverage: float
    precision: float


def coverage_curve(confidence: Sequence[float], correct: Sequence[bool]) -> list[CurvePoint]:
    """One point per distinct confidence, from the most confident down."""
    if len(confidence) != len(correct):
        raise ValueError("confidence and correctness differ in length")
    n = len(confidence)
    pairs = sorted(zip(confidence, correct, strict=True), key=lambda p: -p[0])
    points: list[CurvePoint] = []
    right = 0
    for i, (conf, ok) in enumerate(pairs):
        right += ok
        if i + 1 < n and pairs[i + 1][0] == conf:
            continue  # a threshold admits every ticket of equal confidence at once
        points.append(CurvePoint(float(conf), (i + 1) / n, right / (i + 1)))
    return points


def operating_point(curve: Sequence[CurvePoint], target: float = 0.95) -> Operating:
    """The lowest threshold at which everything dispatched above it is still >= target
    precise. Precision on the curve is cumulative, so a bad patch above a threshold counts
    against it however good the tickets just above the threshold are."""
    best: CurvePoint | None = None
    for p in curve:
        if p.precision >= target:
            best = p
    if best is None:
        return Operating(target, None, 0.0, 0.0)
    return Operating(target, best.threshold, best.coverage, best.precision)


def curve_summary(curve: Sequence[CurvePoint], steps: int = 20) -> list[CurvePoint]:
    """At most `steps` points at even coverage intervals, for a report."""
    if len(curve) <= steps:
        return list(curve)
    out: list[CurvePoint] = []
    for k in range(1, steps + 1):
        want = k / steps
        out.append(next(p for p in curve if p.coverage >= want - 1e-9))
    return out
