"""What a job's logic looks like to the worker loop: a Stage and the Batch it returns.

Every part of a stage other than `process()` is a hook with a do-nothing default here, so a
stage overrides only what it needs and the worker calls every hook on every stage, never
asking what a stage can do (no isinstance or getattr checks in the loop).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord, Output


@dataclass
class Batch:
    outputs: list[Output] = field(default_factory=list)
    rejected: list[tuple[InRecord, RejectedRecord]] = field(default_factory=list)
    # A stage that holds records across polls says how far each partition may be committed
    # ((topic, partition) -> next offset); None commits everything consumed so far.
    commit: dict[tuple[str, int], int] | None = None


class PendingMessage(Protocol):
    seq: int
    output: Output


class Outbox(Protocol):
    """What the worker needs of a stage's transactional outbox (store/outbox.py)."""

    def take(self, limit: int = 1000) -> list[Any]: ...

    def mark_sent(self, seqs: Iterable[int]) -> None: ...


class Stage(ABC):
    """One job's logic between the consumer and the producer."""

    name: str
    stats: Counter[str]
    # A stage whose store writes carry outgoing messages sets its transactional outbox here;
    # the worker sends what it holds after every sink.
    outbox: Outbox | None = None
    # A stage that keeps records across polls commits by its own book (Batch.commit), never
    # by the offsets of the records the worker handed it.
    holds_records: bool = False

    @abstractmethod
    def process(self, records: list[InRecord]) -> Batch:
        """Turn one poll's records into outputs and rejections."""

    def sink(self) -> None:  # noqa: B027 (a hook: doing nothing is its default)
        """Durably write what process() accumulated; runs before the commit. Stages that
        produce their results before the commit have nothing to write."""

    def tick(self) -> Batch:
        """Time-driven work (e.g. resolving idle incidents) when no records arrive."""
        return Batch()

    def on_assigned(self) -> None:  # noqa: B027
        """Partitions moved: reload any state kept for them. Stateless stages keep none."""

    def replay_from(self, tp: tuple[str, int], committed: int, partitions: int) -> int:
        """Where a newly assigned partition (of a topic with `partitions` partitions) is read
        from: its commit point, or before it for a stage whose state is rebuilt from its own
        input; the stage must then emit nothing for the records before the commit point."""
        return committed

    def saturated(self) -> bool:
        """A stage that buffers records says when it is full; the worker then pauses its
        partitions (still polling, so the group keeps it) until the stage has drained."""
        return False

    def holding(self) -> int:
        """Records consumed but not yet finished; a batch job does not exit idle while any."""
        return 0

    def dead_letter_copy(self, rec: InRecord, detail: str) -> tuple[InRecord, str]:
        """What the DLQ keeps of a record the stage raised on, and the error's detail: as
        they are, unless the stage's records hold personal data (tickets redact both)."""
        return rec, detail

    def close(self) -> None:  # noqa: B027
        """Stop the threads and child processes the stage owns, once the worker has closed."""
