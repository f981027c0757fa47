"""Camera and pipeline health from the counters every worker writes to the store each second.

Rates are differences between samples this web process took over the last half minute, so
they need no extra state in the workers and work across any number of them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from citybrain.core.camera_health import STATE_OF_CODE, HealthState
from citybrain.core.city import City
from citybrain.streams.counters import CameraCounter, CameraStat, Stat

_WINDOW_S = 30.0


class RateTracker:
    """Per-key counter samples; rate = change over the window (counters only grow). Shared by
    every live stream's thread, so the samples are kept under a lock."""

    def __init__(self, window_s: float = _WINDOW_S) -> None:
        self.window_s = window_s
        self.samples: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def rate(self, key: str, value: float, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self.samples.setdefault(key, deque())
            if not q or now - q[-1][0] >= 0.5:
                q.append((now, value))
            while len(q) > 2 and now - q[0][0] > self.window_s:
                q.popleft()
            t0, v0 = q[0]
        if now - t0 < 0.5 or value < v0:  # too soon, or a worker restarted its counters
            return 0.0
        return (value - v0) / (now - t0)


def job_of(worker: str) -> str:
    return worker.split("@", 1)[0]


def pipelines(
    stats: dict[str, dict[str, Any]], rates: RateTracker, now: datetime, stale_s: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Per job: workers, consumed and its rate, lag, DLQ count and share of recent input."""
    jobs: dict[str, dict[str, Any]] = {}
    for worker, counters in stats.items():
        j = jobs.setdefault(
            job_of(worker),
            {"workers": 0, "consumed": 0, "lag": 0, "dlq": 0, "age_s": None},
        )
        updated = counters.get("updated_at")
        age = (now - updated).total_seconds() if isinstance(updated, datetime) else None
        live = age is not None and age <= stale_s
        j["workers"] += 1
        # totals count every worker the job had; lag only the live ones (a worker that died
        # or restarted is not behind: its partitions are someone else's now)
        for k in (Stat.CONSUMED, Stat.LAG, Stat.DLQ):
            v = counters.get(k, 0)
            if isinstance(v, int | float) and (live or k != Stat.LAG):
                j[k.value] += v
        if age is not None:
            j["age_s"] = age if j["age_s"] is None else min(j["age_s"], age)
    for name, j in jobs.items():
        per_s = rates.rate(f"{name}.{Stat.CONSUMED}", j["consumed"])
        dlq_per_s = rates.rate(f"{name}.{Stat.DLQ}", j["dlq"])
        j["per_s"] = round(per_s, 2)
        j["dlq_rate"] = round(dlq_per_s / per_s, 4) if per_s > 0 else 0.0
        j["age_s"] = round(j["age_s"], 1) if j["age_s"] is not None else None
        j["status"] = "ok" if j["age_s"] is not None and j["age_s"] <= stale_s else "stale"
    return dict(sorted(jobs.items()))


def cameras(
    city: City,
    stats: dict[str, dict[str, Any]],
    rates: RateTracker,
    stale_s: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """Per configured camera: frames, frame rate, errors, last frame time, status."""
    agg: dict[str, dict[CameraStat, int]] = {}
    for worker, counters in stats.items():
        if job_of(worker) != "vision":
            continue
        for key, v in counters.items():
            counter = CameraCounter.parse(key)
            if counter is None or not isinstance(v, int):
                continue
            entry = agg.setdefault(counter.camera, {})
            stat = counter.stat
            entry[stat] = max(entry.get(stat, 0), v) if stat.is_time else entry.get(stat, 0) + v
    gateway = gateway_health(stats, stale_s, now)
    out = []
    for cam in city.cameras:
        a = agg.get(cam.id, {})
        seen_ms = a.get(CameraStat.SEEN_MS)
        age = (now.timestamp() * 1000 - seen_ms) / 1000 if seen_ms else None
        status = (
            "never"
            if seen_ms is None
            else ("ok" if age is not None and age <= stale_s else "stale")
        )
        frames, errors = a.get(CameraStat.FRAMES, 0), a.get(CameraStat.ERRORS, 0)
        last_ms = a.get(CameraStat.LAST_MS)
        if errors and status == "ok":
            status = "errors"
        g = gateway.get(cam.id, {})
        state = STATE_OF_CODE.get(g[CameraStat.HEALTH]) if CameraStat.HEALTH in g else None
        since_ms = g.get(CameraStat.HEALTH_SINCE_MS)
        if state is not None and state not in (HealthState.ONLINE, HealthState.STARTING):
            status = state.value  # what the camera itself shows comes first
        out.append(
            {
                "id": cam.id,
                "name": cam.name,
                "district": cam.district,
                "frames": frames,
                "errors": errors,
                "fps": round(rates.rate(CameraCounter(cam.id, CameraStat.FRAMES).key, frames), 2),
                "last_frame_at": datetime.fromtimestamp(last_ms / 1000, UTC).isoformat()
                if last_ms
                else None,
                "seen_s_ago": round(age, 1) if age is not None else None,
                "health": state.value if state is not None else None,
                "health_since": datetime.fromtimestamp(since_ms / 1000, UTC).isoformat()
                if since_ms
                else None,
                "sampled": g.get(CameraStat.SAMPLED, 0),
                "sent": g.get(CameraStat.SENT, 0),
                "status": status,
            }
        )
    # cameras in trouble first, worst first; the rest in the city's order
    return sorted(out, key=lambda c: -_RANK.get(c["status"], 0))


_RANK = {
    HealthState.OFFLINE.value: 6,
    HealthState.FROZEN.value: 5,
    HealthState.COVERED.value: 4,
    HealthState.DARK.value: 3,
    HealthState.BLURRED.value: 2,
    "stale": 1,
    "errors": 1,
}


def gateway_health(
    stats: dict[str, dict[str, Any]], stale_s: float, now: datetime
) -> dict[str, dict[CameraStat, int]]:
    """Per camera, what the live camera gateways (`citybrain cameras`) report of it."""
    out: dict[str, dict[CameraStat, int]] = {}
    for worker, counters in stats.items():
        updated = counters.get("updated_at")
        if job_of(worker) != "cameras" or not isinstance(updated, datetime):
            continue
        if (now - updated).total_seconds() > stale_s:
            continue  # a gateway that stopped reporting says nothing about the camera now
        for key, v in counters.items():
            counter = CameraCounter.parse(key)
            if counter is not None and isinstance(v, int):
                out.setdefault(counter.camera, {})[counter.stat] = v
    return out
