"""Named crash points for fault injection (`make chaos`): off unless CITYBRAIN_CRASH_AT is set.

`CITYBRAIN_CRASH_AT=<point>:<n>` kills this process with SIGKILL the n-th time it passes
`<point>` (no clean-up, no flush: what a power cut or an OOM kill does);
`CITYBRAIN_CRASH_MODE=raise` raises `SimulatedCrash` instead, so a test can crash a worker
inside its own process. Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from citybrain.errors import CityBrainError

ENV_AT = "CITYBRAIN_CRASH_AT"
ENV_MODE = "CITYBRAIN_CRASH_MODE"

_passed: Counter[str] = Counter()


class SimulatedCrash(CityBrainError):
    """Raised at a crash point when CITYBRAIN_CRASH_MODE=raise."""


def crash_point(point: str) -> None:
    """Die here if the environment says so (see the module docstring)."""
    spec = os.environ.get(ENV_AT)
    if not spec:
        return
    name, _, count = spec.rpartition(":")
    if name != point:
        return
    _passed[point] += 1
    if _passed[point] != int(count or 1):
        return
    if os.environ.get(ENV_MODE) == "raise":
        raise SimulatedCrash(point)
    os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget how often each point was passed (tests that crash twice in one process)."""
    _passed.clear()
