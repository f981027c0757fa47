"""Poison records: a record that makes a stage raise on every try must not stop its partition.

Why: an unexpected exception in `stage.process` used to end the job; its restart replayed the
same batch and died again, for ever, and the partition never moved. Now the worker drops what
the failed batch did (the stage reloads from the store, the consumer rewinds to the committed
offsets) and marks the batch's offsets as suspect. Suspect records are then processed one at
a time, each committed on its own, so the records around the bad one go through as usual. A
record that fails `retries` times goes to the DLQ with reason `stage_error` and the exception
in its detail, and the partition moves on.

This module keeps the book (which offsets are suspect, how often each record failed); the
worker makes the stage calls.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord
from citybrain.streams.stage import Stage

STAGE_ERROR = "stage_error"

Ref = tuple[str, int, int]  # topic, partition, offset


def _ref(r: InRecord) -> Ref:
    return (r.topic, r.partition, r.offset)


def failure_site(err: BaseException) -> str:
    """What a log may say of a stage's exception: its type and where it was raised, never its
    message, which may quote the record (a ticket's text, a name, a plate). The message goes
    only to the DLQ, through the stage's redaction (`letter_copy`)."""
    frames = traceback.extract_tb(err.__traceback__)
    where = "".join(f"\n  {f.filename}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(err).__module__}.{type(err).__qualname__} (message withheld){where}"


def letter_copy(
    stage: Stage, rec: InRecord, err: RejectedRecord
) -> tuple[InRecord, RejectedRecord]:
    """What goes to the DLQ for a poison record: the record as is, or the stage's redacted
    copy with its detail redacted too (an exception's text may quote the record)."""
    copy, detail = stage.dead_letter_copy(rec, err.detail)
    return copy, RejectedRecord(err.reason, detail)


@dataclass
class PoisonGuard:
    retries: int = 3
    _suspect: dict[tuple[str, int], int] = field(default_factory=dict)  # partition -> last offset
    _failures: dict[Ref, int] = field(default_factory=dict)
    _dead: set[Ref] = field(default_factory=set)  # dead-lettered here: never processed again

    def suspect(self, records: list[InRecord]) -> None:
        """A batch of these records failed: take them one at a time until past them all."""
        for r in records:
            tp = (r.topic, r.partition)
            self._suspect[tp] = max(self._suspect.get(tp, -1), r.offset)

    def isolating(self, records: list[InRecord]) -> bool:
        """Whether any of a poll's records lies in a suspect range (or was dead-lettered)."""
        return any(
            r.offset <= self._suspect.get((r.topic, r.partition), -1) or _ref(r) in self._dead
            for r in records
        )

    def is_dead(self, r: InRecord) -> bool:
        """Already dead-lettered (a rewind brought it back): skip it, it is done."""
        return _ref(r) in self._dead

    def passed(self, r: InRecord) -> None:
        """The record went through (processed or dead-lettered): forget its failures, and its
        partition's suspect range once this was its last suspect record."""
        self._failures.pop(_ref(r), None)
        tp = (r.topic, r.partition)
        if self._suspect.get(tp, -1) <= r.offset:
            self._suspect.pop(tp, None)

    def failed(self, r: InRecord, err: BaseException) -> RejectedRecord | None:
        """One more failed try of `r`: the dead letter's error once its tries are spent, else
        None (the record is tried again)."""
        ref = _ref(r)
        n = self._failures[ref] = self._failures.get(ref, 0) + 1
        if n < self.retries:
            return None
        return RejectedRecord(
            STAGE_ERROR, f"{type(err).__name__}: {err} (failed {n} of {self.retries} tries)"
        )

    def buried(self, r: InRecord) -> None:
        """Its dead letter was sent: never process it again. Only now, so a dead letter that
        did not get out (the database or the broker went away meanwhile) is tried again."""
        self._dead.add(_ref(r))
        self.passed(r)
