"""The load run's sampler: a thread that every SAMPLE_EVERY_S records each job's consumer lag,
each job process's resident memory and the fuser's replay-guard size, on one clock (seconds
since sending began), so the lag plot, the memory plot and the soak's verdict line up."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from citybrain.chaos.lag import LagProbe
from citybrain.chaos.memory import rss_mib
from citybrain.store import Store

log = logging.getLogger(__name__)
SAMPLE_EVERY_S = 5.0
GUARD_COUNTER = "fuser_seen"  # the incidents job's gauge: observations its fuser remembers


def replay_guard(store: Store) -> int | None:
    """The incidents workers' replay-guard size from their counters in the store (None before
    any worker has written it)."""
    sizes = [
        int(c[GUARD_COUNTER])
        for w, c in store.stats().items()
        if w.split("@", 1)[0] == "incidents" and GUARD_COUNTER in c
    ]
    return sum(sizes) if sizes else None


@dataclass
class Sampler:
    """Samples lag, RSS per job (`pids`: job -> process id) and, given `guard`, the replay
    guard. A failed lag sample is counted and skipped; memory is sampled regardless."""

    probe: LagProbe
    t0: float
    pids: Mapping[str, int] = field(default_factory=dict)
    guard: Callable[[], int | None] | None = None
    series: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    memory: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    guard_series: list[tuple[float, int]] = field(default_factory=list)
    ends: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    errors: int = 0
    guard_errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.once()
            self.stop.wait(SAMPLE_EVERY_S)

    def once(self) -> dict[str, int] | None:
        t = round(time.time() - self.t0, 1)
        self._memory(t)
        self._guard(t)
        try:
            lag = self.probe.sample()
            ends = self.probe.ends()
        except Exception as e:  # a missed sample is reported, it never ends the run
            self.errors += 1
            log.warning("lag sample failed: %s", e)
            return None
        t = round(time.time() - self.t0, 1)
        for job, n in lag.items():
            self.series.setdefault(job, []).append((t, n))
        self.ends.append((t, ends))
        return lag

    def _memory(self, t: float) -> None:
        for job, pid in self.pids.items():
            mib = rss_mib(pid)
            if mib is not None:
                self.memory.setdefault(job, []).append((t, round(mib, 2)))

    def _guard(self, t: float) -> None:
        if self.guard is None:
            return
        try:
            n = self.guard()
        except Exception as e:  # the store busy or down for a moment: a gap, not an end
            self.guard_errors += 1
            log.warning("replay-guard sample failed: %s", e)
            return
        if n is not None:
            self.guard_series.append((t, n))
