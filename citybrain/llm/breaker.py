"""A circuit breaker: after N consecutive failures, skip the model for a while.

A dead or overloaded model server must cost each incident nothing, not a timeout each: while
the circuit is open, callers go straight to their fallback. After `reset_s` one trial call is
let through (half-open); its success closes the circuit, its failure re-opens it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self.clock = clock
        self._count = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self.clock() - self._opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self.clock() - self._opened_at >= self.reset_s and not self._trial:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._count, self._opened_at, self._trial = 0, None, False

    def release(self) -> None:
        """A trial call that was never answered either way (not sent, cut short by the
        caller): the next caller may try instead, so the circuit cannot stick half-open."""
        with self._lock:
            self._trial = False

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            self._trial = False
            if self._count >= self.failures:
                self._opened_at = self.clock()
