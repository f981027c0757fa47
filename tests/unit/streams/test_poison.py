"""The poison guard's book: which offsets are suspect, how often a record failed, and when a
record's tries are spent (the worker loop around it is tested against the broker)."""

from __future__ import annotations

from citybrain.streams.poison import STAGE_ERROR, PoisonGuard
from citybrain.streams.records import InRecord


def rec(offset: int, partition: int = 0) -> InRecord:
    return InRecord("t", partition, offset, None, b"v", {})


def test_a_failed_batch_makes_its_offsets_suspect_until_its_last_record_passed() -> None:
    g = PoisonGuard(retries=3)
    g.suspect([rec(4), rec(5), rec(6), rec(9, partition=1)])
    assert g.isolating([rec(6)]) and g.isolating([rec(9, partition=1)])
    assert not g.isolating([rec(7), rec(10, partition=1)])
    g.passed(rec(5))
    assert g.isolating([rec(6)])
    g.passed(rec(6))
    assert not g.isolating([rec(6)])  # past the range: whole batches again


def test_the_last_try_gives_the_dead_letter_and_a_buried_record_is_skipped() -> None:
    g = PoisonGuard(retries=3)
    err = ValueError("bad")
    assert g.failed(rec(1), err) is None
    assert g.failed(rec(1), err) is None
    letter = g.failed(rec(1), err)
    assert letter is not None and letter.reason == STAGE_ERROR
    assert letter.detail == "ValueError: bad (failed 3 of 3 tries)"
    assert not g.is_dead(rec(1))  # not until its dead letter is out
    g.buried(rec(1))
    assert g.is_dead(rec(1)) and g.isolating([rec(1)])
    assert g.failed(rec(2), err) is None  # every record has tries of its own
