"""The soak's pure parts: reading VmRSS, the warm-up, the linear fit and the flat verdict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from citybrain.chaos.load_plot import plot_memory
from citybrain.chaos.load_report import (
    FLAT_MIB,
    FLAT_SHARE,
    WARM_UP_MIN_S,
    WARM_UP_SHARE,
    all_flat,
    memory_verdict,
    series_summary,
    warm_up_s,
)
from citybrain.chaos.memory import rss_mib, vm_rss_mib

STATUS = "Name:\tpython\nVmPeak:\t  900000 kB\nVmRSS:\t  204800 kB\nThreads:\t4\n"


def test_vm_rss_is_read_in_mib() -> None:
    assert vm_rss_mib(STATUS) == 200.0


def test_a_status_without_vm_rss_says_none() -> None:
    assert vm_rss_mib("Name:\tzombie\nState:\tZ (zombie)\n") is None


def test_an_unknown_unit_is_refused_not_misread() -> None:
    with pytest.raises(ValueError, match="unit"):
        vm_rss_mib("VmRSS:\t 200 MB\n")


def test_own_process_has_a_resident_size_and_a_gone_one_none(tmp_path: Path) -> None:
    mib = rss_mib(os.getpid())
    assert mib is not None and mib > 1.0
    assert rss_mib(12345, proc=tmp_path) is None


def test_warm_up_is_three_minutes_or_a_fifth_of_the_run_whichever_is_longer() -> None:
    assert warm_up_s(600.0) == WARM_UP_MIN_S
    assert warm_up_s(1800.0) == WARM_UP_SHARE * 1800.0 == 360.0


def line(
    start: float, mib_per_s: float, end_s: float, every: float = 5.0
) -> list[tuple[float, float]]:
    """RSS samples on a straight line, `start` MiB at t=0."""
    n = int(end_s / every) + 1
    return [(i * every, start + mib_per_s * i * every) for i in range(n)]


def test_flat_memory_is_flat() -> None:
    v = memory_verdict(line(300.0, 0.0, 1800.0), 1800.0)
    assert v["flat"] is True
    assert v["warm_rss_mib"] == v["last_rss_mib"] == 300.0
    assert v["slope_mib_per_h"] == 0.0
    assert v["warm_up_s"] == 360.0


def test_the_warm_up_is_left_out_of_the_fit() -> None:
    """A steep climb while imports and caches fill, then flat: flat."""
    climb = [(t, 100.0 + t) for t in range(0, 300, 5)]  # 100 -> 395 MiB in the first 5 min
    flat = [(float(t), 400.0) for t in range(360, 1801, 5)]
    v = memory_verdict([*climb, *flat], 1800.0)
    assert v["flat"] is True and v["warm_rss_mib"] == 400.0
    assert v["max_rss_mib"] == 400.0


def test_steady_growth_over_the_allowance_is_not_flat() -> None:
    """1 MiB a minute over the 24 measured minutes: 24 MiB > max(20, 5% of 300 = 15)."""
    v = memory_verdict(line(300.0, 1.0 / 60.0, 1800.0), 1800.0)
    assert v["flat"] is False
    assert v["allowance_mib"] == FLAT_MIB
    assert v["slope_mib_per_h"] == pytest.approx(60.0)
    assert v["fitted_growth_mib"] == pytest.approx(24.0)


def test_the_allowance_is_a_share_of_a_large_warm_rss() -> None:
    """Warm at 1000 MiB the allowance is 50 MiB: 24 MiB of growth is flat there."""
    v = memory_verdict(line(1000.0, 1.0 / 60.0, 1800.0), 1800.0)
    assert v["allowance_mib"] == pytest.approx(FLAT_SHARE * v["warm_rss_mib"])
    assert v["flat"] is True


def test_samples_after_sending_stops_are_not_measured() -> None:
    """The drain after sending is not the soak: a jump there does not count."""
    series = [*line(300.0, 0.0, 1800.0), (1805.0, 900.0), (1810.0, 900.0)]
    v = memory_verdict(series, 1800.0)
    assert v["flat"] is True and v["last_rss_mib"] == 300.0
    assert v["max_rss_mib"] == 900.0  # still reported


def test_one_outlier_does_not_decide_the_verdict() -> None:
    """The fit, not the last sample: one spike at the end of a flat run stays flat."""
    series = line(300.0, 0.0, 1800.0)
    series[-1] = (series[-1][0], 400.0)
    assert memory_verdict(series, 1800.0)["flat"] is True


def test_a_run_shorter_than_the_warm_up_is_not_measured() -> None:
    v = memory_verdict(line(300.0, 1.0, 120.0), 120.0)
    assert v["flat"] is None and v["samples"] == 0 and v["slope_mib_per_h"] is None
    assert memory_verdict([], 1800.0)["flat"] is None


def test_all_flat_is_false_on_any_growth_and_none_when_any_was_not_measured() -> None:
    yes, no, unknown = {"flat": True}, {"flat": False}, {"flat": None}
    assert all_flat({"a": yes, "b": yes}) is True
    assert all_flat({"a": yes, "b": no, "c": unknown}) is False
    assert all_flat({"a": yes, "b": unknown}) is None
    assert all_flat({}) is None


def test_series_summary_of_the_replay_guard() -> None:
    assert series_summary([(0.0, 3), (5.0, 9), (10.0, 7)]) == {"first": 3, "last": 7, "max": 9}
    assert series_summary([]) == {"first": None, "last": None, "max": None}


def test_the_memory_plot_is_written_as_a_png(tmp_path: Path) -> None:
    series = {"vision": line(1200.0, 0.0, 60.0), "tickets": line(200.0, 0.01, 60.0)}
    out = plot_memory(series, 60.0, warm_up_s(60.0), tmp_path / "img" / "memory.png", "t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_memory({}, 60.0, 180.0, tmp_path / "empty.png", "t").exists()
