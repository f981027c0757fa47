"""The broker on durable storage (Tansu's s3:// engine on a local S3 server), as the fault
suite runs it: killed with SIGKILL and started again, it still has every acknowledged record and
the group's committed offsets."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from citybrain.chaos.s3 import ObjectStore
from citybrain.config.kafka import BrokerSettings, KafkaSettings
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.topics import ensure_topics

from .conftest import free_port

pytestmark = pytest.mark.integration


def _consumer(bootstrap: str, group: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )


def test_a_killed_broker_comes_back_with_its_records_and_offsets(tmp_path: Path) -> None:
    with ObjectStore(free_port(), "durable-test", tmp_path / "s3.log") as s3:
        broker = EmbeddedBroker(
            BrokerSettings(port=free_port(), storage=s3.storage),
            tmp_path / "b.log",
            s3.broker_env(),
        ).start()
        try:
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, partitions=1)
            ensure_topics(kafka)
            topic = f"{kafka.topic_prefix}.tickets"
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
            for i in range(6):
                producer.send(topic, f"r{i}".encode()).get(timeout=10)
            producer.close()
            tp = TopicPartition(topic, 0)
            group = f"g-{uuid.uuid4().hex[:6]}"
            c = _consumer(broker.bootstrap, group)
            c.assign([tp])
            c.seek_to_beginning(tp)
            first = [m.value for m in c]
            c.commit({tp: OffsetAndMetadata(4, None, -1)})
            c.close()
            assert first == [f"r{i}".encode() for i in range(6)]

            broker.kill()  # no shutdown of its own
            broker.start()

            c = _consumer(broker.bootstrap, group)
            c.assign([tp])
            assert c.committed(tp) == 4
            assert [m.value for m in c] == [b"r4", b"r5"]  # resumes at the committed offset
            c.close()
        finally:
            broker.stop()
