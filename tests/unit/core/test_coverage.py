"""The coverage-precision curve and the auto-dispatch threshold it yields."""

from __future__ import annotations

import pytest

from citybrain.core.coverage import coverage_curve, curve_summary, operating_point


def test_curve_is_cumulative_from_the_most_confident() -> None:
    conf = [0.99, 0.9, 0.9, 0.6, 0.3]
    ok = [True, True, False, True, False]
    curve = coverage_curve(conf, ok)
    # equal confidences enter together: no threshold can split them
    assert [(p.threshold, p.coverage) for p in curve] == [
        (0.99, 0.2),
        (0.9, 0.6),
        (0.6, 0.8),
        (0.3, 1.0),
    ]
    assert [round(p.precision, 3) for p in curve] == [1.0, 0.667, 0.75, 0.6]


def test_operating_point_is_the_lowest_threshold_meeting_the_target() -> None:
    conf = [0.99, 0.95, 0.9, 0.8, 0.7, 0.2]
    ok = [True, True, True, True, False, False]
    op = operating_point(coverage_curve(conf, ok), 0.8)
    # at 0.7 precision is 4/5 = 0.8 (meets), at 0.2 it is 4/6 (fails)
    assert op.threshold == 0.7 and op.coverage == pytest.approx(5 / 6)
    assert op.precision == pytest.approx(0.8)


def test_a_bad_patch_at_the_top_counts_against_every_lower_threshold() -> None:
    conf = [0.99, 0.98, 0.5, 0.4]
    ok = [False, False, True, True]
    op = operating_point(coverage_curve(conf, ok), 0.95)
    assert op.threshold is None and op.coverage == 0.0


def test_summary_keeps_at_most_the_asked_points() -> None:
    conf = [i / 100 for i in range(100)]
    curve = coverage_curve(conf, [True] * 100)
    short = curve_summary(curve, 10)
    assert len(short) == 10 and short[-1].coverage == 1.0
    with pytest.raises(ValueError):
        coverage_curve([0.1], [])
