"""Consumer lag of each job's group, measured from outside the jobs: the end offsets of the
job's input topics minus the group's committed offsets. That is what a restart would replay,
and it needs nothing from the workers, so a stuck or dead worker shows as growing lag rather
than as a missing counter."""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from citybrain.config.kafka import KafkaSettings
from citybrain.streams.kafka_io import group_id

Offsets = Mapping[tuple[str, int], int]


def group_lag(end: Offsets, committed: Offsets, beginning: Offsets) -> int:
    """Records of these partitions the group has not committed yet. A partition the group never
    committed counts from its first offset (the group reads from the earliest); a committed
    offset past the end (the end read a moment earlier) counts as none."""
    total = 0
    for tp, high in end.items():
        done = committed.get(tp, beginning.get(tp, 0))
        total += max(0, high - done)
    return total


class LagProbe:
    """Samples the lag of the jobs' groups: one plain consumer for the topics' end and first
    offsets, one admin client for the groups' committed offsets; neither joins a group."""

    def __init__(self, kafka: KafkaSettings, inputs: Mapping[str, list[str]]) -> None:
        self.kafka = kafka
        self.inputs = dict(inputs)  # job -> its input topics
        opts = kafka.client_options()
        self.consumer = KafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False, **opts
        )
        self.admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, **opts)

    def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        return [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(self.consumer.partitions_for_topic(t) or ())
        ]

    def ends(self) -> dict[str, int]:
        """Records ever written per input topic (the sum of its partitions' end offsets)."""
        topics = sorted({t for ts in self.inputs.values() for t in ts})
        parts = self._partitions(topics)
        out = dict.fromkeys(topics, 0)
        for tp, high in self.consumer.end_offsets(parts).items():
            out[tp.topic] += int(high)
        return out

    def sample(self) -> dict[str, int]:
        """Lag per job, in records."""
        out: dict[str, int] = {}
        for job, topics in self.inputs.items():
            parts = self._partitions(topics)
            end = {
                (tp.topic, tp.partition): int(o)
                for tp, o in self.consumer.end_offsets(parts).items()
            }
            first = {
                (tp.topic, tp.partition): int(o)
                for tp, o in self.consumer.beginning_offsets(parts).items()
            }
            group = group_id(self.kafka, job)
            got = self.admin.list_group_offsets({group: parts}).get(group, {})
            committed = {
                (tp.topic, tp.partition): int(om.offset)
                for tp, om in got.items()
                if om is not None and om.offset is not None and om.offset >= 0
            }
            out[job] = group_lag(end, committed, first)
        return out

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()
