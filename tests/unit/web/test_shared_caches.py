"""The caches every live stream and snapshot request shares are used from the server's thread
pool at once: many threads filling and evicting them together lose no entry to a race and
raise nothing (before their locks, eviction raised KeyError or 'changed size during
iteration'). The switch interval is shortened so the threads interleave inside the methods."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from citybrain.config.kafka import KafkaSettings
from citybrain.web.health import RateTracker
from citybrain.web.live import PanelCache
from citybrain.web.snapshot import FrameReader


@pytest.fixture(autouse=True)
def _interleave() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _hammer(work: Callable[[int, int], Any], threads: int = 8, rounds: int = 3000) -> None:
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            for i in range(rounds):
                work(t, i)
        except BaseException as e:  # every failure counts
            errors.append(e)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert errors == []


def test_the_panel_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = PanelCache()
    _hammer(lambda t, i: cache.get((f"p{t}-{i}", None), 60.0, lambda: i))  # type: ignore[arg-type]
    assert len(cache.entries) <= 1000


def test_the_rate_tracker() -> None:
    rates = RateTracker(window_s=0.0)
    _hammer(lambda t, i: rates.rate("shared", float(i), now=float(i)))


class _Frames(FrameReader):
    def _fetch(self, tp: Any, offset: int, timeout_s: float) -> bytes | None:
        return b"frame"  # the broker read is not what is tested here


def test_the_frame_cache() -> None:
    frames = _Frames(KafkaSettings(), "city.frames", cache=8)
    _hammer(lambda t, i: frames.read(f"city.frames/0/{(t * 7 + i) % 20}"))
    assert len(frames.cache) <= 8
