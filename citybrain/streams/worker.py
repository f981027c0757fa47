"""The consume → process → sink → produce → commit loop shared by every pipeline.

Offsets are committed only after the stage's durable sink has written and every record sent
for the batch has been acknowledged (checked sends, `send.py`), so a crash or a failed send
at any point replays records rather than losing them; stages make the replay harmless with
deterministic ids. What a stage emits because of a store write travels through its
transactional outbox (`store/outbox.py`): written with the change, sent here after the
commit, marked sent. A record a stage rejects goes to the DLQ and the partition moves on.

A dependency that is down (the database: `transient` errors) pauses consumption instead of
killing the job: the worker keeps polling, so it stays in its group, retries with back-off,
then reloads the stage's state and rewinds to the committed offsets, which replays the batch
that failed. Writing the counters is best effort and never stops a job. A record on which
the stage raises anything else is isolated and dead-lettered as `stage_error` (`poison.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from citybrain.streams.counters import Stat, dlq_reason, sent_to
from citybrain.streams.crash import SimulatedCrash, crash_point
from citybrain.streams.poison import PoisonGuard, failure_site, letter_copy
from citybrain.streams.records import InRecord, dead_letter
from citybrain.streams.send import CheckedSender, SendFailed
from citybrain.streams.stage import Batch, Outbox, Stage

__all__ = ["Batch", "Stage", "StreamWorker"]  # Batch and Stage live in stage.py

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("%s: partitions revoked %s", self.worker.stage.name, sorted(map(str, revoked)))

    def on_partitions_assigned(self, assigned: Any) -> None:
        stage = self.worker.stage
        log.info("%s: partitions assigned %s", stage.name, sorted(str(p) for p in assigned))
        try:
            stage.on_assigned()
        except self.worker.transient as e:  # the client would only log it: reload later
            log.warning("%s: could not reload state (%s); retrying", stage.name, e)
            self.worker.reload_needed = True
        # where the stage wants them read from is settled after this poll: a listener must
        # not block on the client (kafka-python refuses), and the commit points are a request
        self.worker.just_assigned |= set(assigned)


class _ReloadNeeded(Exception):
    """A rebalance could not reload the stage's state (its dependency was down)."""


class StreamWorker:
    def __init__(
        self,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        stage: Stage,
        topics: list[str],
        dlq_topic: str,
        dlq_max_bytes: int = 1024 * 1024,
        poll_timeout_ms: int = 500,
        report: Callable[[str, dict[str, int]], None] | None = None,
        transient: tuple[type[BaseException], ...] = (),
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        poison_retries: int = 3,
        tick_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.stage = stage
        self.dlq_topic = dlq_topic
        self.dlq_max_bytes = dlq_max_bytes
        self.poll_timeout_ms = poll_timeout_ms
        self.report = report
        self.transient = transient
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.reload_needed = False
        self.just_assigned: set[TopicPartition] = set()  # by the listener, for _replay_for_state
        self.sender = CheckedSender(producer, dlq_topic, dlq_max_bytes, stage.name)
        self.outbox: Outbox | None = stage.outbox
        self._next: dict[tuple[str, int], int] = {}  # next offset per partition, for lag
        self.poison = PoisonGuard(poison_retries)
        self.tick_every_s = tick_every_s
        self.clock = clock
        self._last_tick = clock()
        # not a record's fault: a dependency is down, or a simulated crash
        self._not_poison: tuple[type[BaseException], ...] = (_ReloadNeeded, SimulatedCrash)
        self._not_poison += transient
        consumer.subscribe(topics, listener=_Rebalance(self))

    def run(
        self, stop: threading.Event, idle_exit_s: float | None = None, first_wait_s: float = 120.0
    ) -> None:
        """Loop until `stop` is set. Batch jobs pass idle_exit_s: stop once records have flowed
        and then nothing arrived for that long (or nothing at all within first_wait_s)."""
        last_data = time.monotonic()
        seen_data = False
        last_report = 0.0
        paused_by: tuple[type[BaseException], ...] = (_ReloadNeeded, *self.transient)
        try:
            while not stop.is_set():
                try:
                    if self.reload_needed:
                        raise _ReloadNeeded
                    got = self._step()
                except paused_by as e:
                    self._ride_out(e, stop)
                    continue
                now = time.monotonic()
                if got:  # idle time counts from when the last batch was done, not fetched
                    seen_data = True
                    last_data = now
                if self.report and now - last_report > 1.0:
                    self.stage.stats[Stat.LAG] = self._lag()
                    self._report()
                    last_report = now
                if (
                    idle_exit_s is not None
                    and now - last_data > (idle_exit_s if seen_data else first_wait_s)
                    and not self._busy()
                ):
                    break
        finally:
            if self.report:
                self._report()

    def _step(self) -> bool:
        """One poll and its batch, through to the commit, then the stage's tick when the poll
        found nothing or `tick_every_s` has passed since the last: a city's input never leaves
        a poll empty, and expiry, hot-spot closing and digests live in tick. True when records
        came."""
        got = self._records()
        if not got or self.clock() - self._last_tick >= self.tick_every_s:
            self._last_tick = self.clock()
            self._finish(self.stage.tick(), commit=False)
        return got

    def _records(self) -> bool:
        """One poll and its batch, through to the commit; True when records came."""
        self._throttle()
        polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms)
        if self.just_assigned:
            polled = self._replay_for_state(polled)
        records = [
            InRecord.from_kafka(r)
            for tp in sorted(polled, key=lambda t: (t.topic, t.partition))
            for r in polled[tp]
        ]
        for r in records:
            self._next[(r.topic, r.partition)] = r.offset + 1
        if records:
            crash_point(f"{self.stage.name}.after_poll")
            self.stage.stats[Stat.CONSUMED] += len(records)
            if self.poison.isolating(records):
                self._one_by_one(records)
                return True
            tried = self._try(records)
            if tried is None:  # a poison record somewhere in the batch
                return True
            crash_point(f"{self.stage.name}.after_process")
            self._finish(tried, commit=True)
        return bool(records)

    def _one_by_one(self, records: list[InRecord]) -> None:
        """Suspect records: each processed, written, sent and committed on its own, so a
        poison record takes nothing else with it to the DLQ."""
        for r in records:
            if self.poison.is_dead(r):  # dead-lettered already; a rewind brought it back
                self.poison.passed(r)
                continue
            batch = self._try([r])
            if batch is None:
                return  # rewound: the records after this one come again
            if batch.commit is None:
                batch.commit = {(r.topic, r.partition): r.offset + 1}
            self._finish(batch, commit=True)
            self.poison.passed(r)

    def _try(self, records: list[InRecord]) -> Batch | None:
        """stage.process, or None when it raised on a record: what the try did is dropped
        (the stage reloads, the consumer rewinds to the commit) and the records are taken one
        at a time; one that failed all its tries goes to the DLQ first."""
        try:
            return self.stage.process(records)
        except self._not_poison:
            raise
        except Exception as e:
            self.stage.stats["stage_errors"] += 1
            log.warning(
                "%s: stage failed on %d record(s): %s",
                self.stage.name,
                len(records),
                failure_site(e),
            )
            letter = self.poison.failed(records[0], e) if len(records) == 1 else None
            self.poison.suspect(records)
        self.stage.on_assigned()
        if letter is not None:
            r = records[0]
            log.error("%s: %s failed every try: dead-lettered", self.stage.name, r.ref)
            # a stage that holds records commits by its own book, where `r` never is
            commit = {} if self.stage.holds_records else {(r.topic, r.partition): r.offset + 1}
            r, letter = letter_copy(self.stage, r, letter)  # redacted where the stage says so
            self._finish(Batch(rejected=[(r, letter)], commit=commit), commit=True)
            self.poison.buried(r)
        self._rewind()
        return None

    def _report(self) -> None:
        """Counters to the store; best effort, so a database outage never kills the job."""
        assert self.report is not None
        try:
            self.report(self.stage.name, dict(self.stage.stats))
        except Exception as e:  # statistics must never stop the stream
            self.stage.stats[Stat.STATS_WRITE_FAILED] += 1
            log.warning("%s: could not write counters: %s", self.stage.name, e)

    def _ride_out(self, err: BaseException, stop: threading.Event) -> None:
        """A dependency is down: pause every partition, keep polling (the group keeps this
        worker), retry the stage's reload with exponential back-off until it works, then
        rewind to the committed offsets so the failed batch is consumed again."""
        name = self.stage.name
        self.stage.stats[Stat.DEPENDENCY_DOWN] += 1
        log.warning("%s: dependency unavailable (%s); consumption paused", name, err)
        delay = self.retry_initial_s
        while not stop.is_set():
            self._pause_all()
            self.consumer.poll(timeout_ms=int(min(delay, self.retry_max_s) * 1000))
            try:
                self.reload_needed = False
                self.stage.on_assigned()
                break
            except self.transient as e:
                self.stage.stats[Stat.DEPENDENCY_RETRIES] += 1
                log.info("%s: still unavailable (%s); next try in %.1f s", name, e, delay)
                delay = min(self.retry_max_s, delay * 2)
        self._rewind()
        self.consumer.resume(*self.consumer.paused())
        log.warning("%s: dependency back; resumed from the committed offsets", name)

    def _replay_for_state(self, polled: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """Start newly assigned partitions where the stage asks: before the commit point for a
        stage that rebuilds its state from records it already handled. What this poll brought
        of a partition moved back is dropped here; it comes again after the re-read part."""
        moved = set()
        assigned, self.just_assigned = self.just_assigned, set()
        for tp in assigned:
            committed = self.consumer.committed(tp)
            if committed is None:
                continue
            count = len(self.consumer.partitions_for_topic(tp.topic) or ())
            start = self.stage.replay_from((tp.topic, tp.partition), committed, count)
            if start < committed:
                log.info("%s: %s re-read from %d for state (committed %d)",
                         self.stage.name, tp, start, committed)  # fmt: skip
                self.consumer.seek(tp, start)
                moved.add(tp)
        return {tp: recs for tp, recs in polled.items() if tp not in moved}

    def _pause_all(self) -> None:
        running = self.consumer.assignment() - self.consumer.paused()
        if running:
            self.consumer.pause(*running)

    def _rewind(self) -> None:
        """Seek every assigned partition back to its committed offset (or the start)."""
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    def _busy(self) -> bool:
        """Records held by the stage, or partitions paused for it: not idle, only waiting."""
        return bool(self.stage.holding() or self.consumer.paused())

    def _throttle(self) -> None:
        if self.stage.saturated():
            running = self.consumer.assignment() - self.consumer.paused()
            if running:
                self.consumer.pause(*running)
                self.stage.stats[Stat.PAUSED] += 1
                log.info("%s: stage full, consumption paused", self.stage.name)
        elif self.consumer.paused():
            self.consumer.resume(*self.consumer.paused())
            log.info("%s: consumption resumed", self.stage.name)

    def _lag(self) -> int:
        """Records behind the partitions' high-water marks as of the last fetch, from what the
        consumer already knows (no network call in the loop)."""
        lag = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            nxt = self._next.get((tp.topic, tp.partition))
            if high is not None and nxt is not None:
                lag += max(0, high - nxt)
        return lag

    def _finish(self, batch: Batch, commit: bool) -> None:
        name = self.stage.name
        self.stage.sink()

        def crash_at(point: str) -> None:  # fault injection counts batches of records only
            if commit or batch.commit:
                crash_point(f"{name}.{point}")

        crash_at("after_sink")
        pending = self.outbox.take() if self.outbox is not None else []
        outputs = [p.output for p in pending] + list(batch.outputs)
        for rec, err in batch.rejected:
            log.warning("%s: dead-letter %s: %s", name, rec.ref, err)
            outputs.append(dead_letter(rec, err, name, self.dlq_topic, self.dlq_max_bytes))
            self.stage.stats[Stat.DLQ] += 1
            self.stage.stats[dlq_reason(err.reason)] += 1
        if outputs:
            crash_at("before_send")
            try:
                sent = self.sender.send_all(outputs)
            except SendFailed as e:
                self.stage.stats[Stat.SEND_FAILED] += 1
                if self.outbox is not None:  # what got through is not sent again
                    self.outbox.mark_sent(pending[i].seq for i in e.delivered if i < len(pending))
                raise
            for i in sent.delivered:
                if i not in sent.too_large:
                    self.stage.stats[sent_to(outputs[i].topic)] += 1
            if sent.too_large:
                self.stage.stats[dlq_reason("record_too_large")] += len(sent.too_large)
                self.stage.stats[Stat.DLQ] += len(sent.too_large)
            crash_at("after_send")
            if pending:
                assert self.outbox is not None
                self.outbox.mark_sent(p.seq for p in pending)
                crash_at("after_mark_sent")
        try:
            if batch.commit is not None:
                if batch.commit:
                    self.consumer.commit(
                        {
                            TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                            for (t, p), o in batch.commit.items()
                        }
                    )
            elif commit:
                self.consumer.commit()
        except CommitFailedError as e:
            # The group moved on while this batch ran (it outlasted max.poll.interval): the
            # next poll rejoins. The batch is already written and sent; if its partitions went
            # elsewhere it is read again from the last commit, and its writes and messages are
            # keyed, so the replay changes nothing. Ending the job here would only lose time.
            self.stage.stats[Stat.COMMIT_FAILED] += 1
            log.warning("%s: commit refused after a rebalance (%s); the batch replays", name, e)
            return
        crash_at("after_commit")

    def send_outbox(self) -> None:
        """At shutdown, once the stage's own threads (the summary worker) have stopped: send
        what they left in the outbox. Best effort: what does not go stays there, and the next
        start (or another worker, when the lease runs out) sends it."""
        if self.outbox is None:
            return
        try:
            self._finish(Batch(), commit=False)
        except Exception as e:
            log.warning("%s: outbox not sent at shutdown: %s", self.stage.name, e)

    def close(self) -> None:
        try:
            self.producer.flush(10)
        finally:
            self.consumer.close()
            self.producer.close(5)
