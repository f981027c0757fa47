"""The names of the counters a worker writes to the store, typed where they are written and
where they are read back (web/health.py, the metrics endpoint), so the two cannot drift.

The stored form stays the flat `name -> int` mapping the dashboards, `/api/stats` and
`/metrics` read: a `Stat` is a `str` (its value), and a camera's counters are keyed
`camera.<id>.<stat>`, built and taken apart only by `CameraCounter`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Stat(StrEnum):
    """What the worker loop counts for every job."""

    CONSUMED = "consumed"
    LAG = "lag"  # a gauge: records behind the input topics' ends
    DLQ = "dlq"
    PAUSED = "paused"
    SEND_FAILED = "send_failed"
    COMMIT_FAILED = "commit_failed"
    DEPENDENCY_DOWN = "dependency_down"
    DEPENDENCY_RETRIES = "dependency_retries"
    STATS_WRITE_FAILED = "stats_write_failed"


def dlq_reason(reason: str) -> str:
    """Dead letters by reason (`dlq.<reason>`), beside their total `Stat.DLQ`."""
    return f"dlq.{reason}"


def sent_to(topic: str) -> str:
    """Records delivered per output topic, by the topic's last name part (`out.<name>`)."""
    return f"out.{topic.rsplit('.', 1)[-1]}"


class CameraStat(StrEnum):
    """Per camera, for the dashboard's camera health."""

    FRAMES = "frames"
    ERRORS = "errors"
    LAST_MS = "last_ms"  # a gauge: the newest capture time processed (epoch ms)
    SEEN_MS = "seen_ms"  # a gauge: when the camera's last frame was processed (epoch ms)
    # written by the camera gateway (`citybrain cameras`)
    SAMPLED = "sampled"  # frames sampled from the stream
    SENT = "sent"  # of them, sent to the detector (the motion gate passed them)
    GATED = "gated"  # of them, held back by the motion gate
    RECONNECTS = "reconnects"  # times the stream was opened
    HEALTH = "health"  # a gauge: core.camera_health.HealthState.code
    HEALTH_SINCE_MS = "health_since_ms"  # a gauge: when that state began (epoch ms)

    @property
    def is_time(self) -> bool:
        """A time gauge: several workers' values combine by their maximum, not their sum."""
        return self in (CameraStat.LAST_MS, CameraStat.SEEN_MS, CameraStat.HEALTH_SINCE_MS)


class CameraCounter(NamedTuple):
    camera: str
    stat: CameraStat

    @property
    def key(self) -> str:
        return f"camera.{self.camera}.{self.stat.value}"

    @classmethod
    def parse(cls, key: str) -> CameraCounter | None:
        """The camera counter a stored key names, or None for any other counter (a camera
        id with a dot in it cannot be told apart, so it is not one either)."""
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "camera":
            return None
        try:
            return cls(parts[1], CameraStat(parts[2]))
        except ValueError:
            return None
