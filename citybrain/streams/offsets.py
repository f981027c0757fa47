"""Which offsets a stage that holds records across polls may commit.

A partition's commit point is its lowest offset still in flight; with nothing in flight, one
past the last offset seen. Committing only up to there keeps the worker's guarantee: a crash
replays every record whose outputs were not yet produced.
"""

from __future__ import annotations

from collections import defaultdict

TopicPartition = tuple[str, int]


class OffsetTracker:
    def __init__(self) -> None:
        self._open: defaultdict[TopicPartition, set[int]] = defaultdict(set)
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    def seen(self, tp: TopicPartition, offset: int) -> None:
        """A record was consumed and is in flight until `done`."""
        self._open[tp].add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def done(self, tp: TopicPartition, offset: int) -> None:
        self._open[tp].discard(offset)

    def is_open(self, tp: TopicPartition, offset: int) -> bool:
        return offset in self._open[tp]

    def in_flight(self) -> int:
        return sum(len(s) for s in self._open.values())

    def advance(self) -> dict[TopicPartition, int]:
        """Commit points that moved since the last call (what the worker should commit now)."""
        moved = {}
        for tp, nxt in self._next.items():
            point = min(self._open[tp]) if self._open[tp] else nxt
            if point > self._committed.get(tp, -1):
                moved[tp] = self._committed[tp] = point
        return moved

    def reset(self) -> None:
        """Partitions were reassigned: their records will be consumed again from the commit."""
        self._open.clear()
        self._next.clear()
        self._committed.clear()
