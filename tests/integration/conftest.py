"""Real parts for integration tests: the embedded Kafka-protocol broker and PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer, TopicPartition
from sqlalchemy import create_engine, text

from citybrain.config import Settings
from citybrain.config.kafka import BrokerSettings, KafkaSettings
from citybrain.store import Store
from citybrain.store.models import Base
from citybrain.streams import inspect
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.kafka_io import make_consumer, make_producer
from citybrain.streams.stage import Stage
from citybrain.streams.topics import Topics, ensure_topics
from citybrain.streams.worker import StreamWorker

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(BrokerSettings(port=free_port())) as b:
        yield b


@pytest.fixture
def live_settings(settings: Settings, broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings in a namespace of their own on the shared broker, with a fresh SQLite store."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    s = settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(
                update={
                    "bootstrap_servers": broker.bootstrap,
                    "topic_prefix": prefix,
                    "partitions": 2,
                }
            ),
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/store.db"}),
        }
    )
    ensure_topics(s.kafka)
    return s


def produce(
    bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=64 * 1024 * 1024)
    for key, value, headers in items:
        p.send(topic, key=key, value=value, headers=headers)
    p.flush()
    p.close()


def read_topic(bootstrap: str, topic: str) -> list:  # type: ignore[type-arg]
    return inspect.read_topic(KafkaSettings(bootstrap_servers=bootstrap), topic)


def _pg_available() -> bool:
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway schema on the machine's PostgreSQL (started if it is installed but down)."""
    if not _pg_available():
        subprocess.run(
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            shell=True,
            check=False,
            capture_output=True,
        )
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started")
    schema = f"cb_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        engine.dispose()


@pytest.fixture(scope="session")
def embedded_llm(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded model server (llama.cpp with the default installed model), once per test session;
    yields its OpenAI-compatible endpoint."""
    from citybrain.llm.errors import LLMError
    from citybrain.llm.server import EmbeddedLLMServer, packaged_model

    try:
        import llama_cpp.server  # noqa: F401

        packaged_model()
    except (ImportError, LLMError) as e:
        pytest.skip(f"embedded model not installed: {e}")
    llm = settings.llm.model_copy(update={"embedded_port": free_port()})
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with EmbeddedLLMServer(llm, log_path=log) as server:
        yield server.endpoint


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on real SQLite, then on real PostgreSQL (a test runs on both)."""
    url = (
        f"sqlite:///{tmp_path}/s.db"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store.from_url(url)
    Base.metadata.drop_all(s.engine)
    Base.metadata.create_all(s.engine)
    yield s
    s.engine.dispose()


def committed_total(s: Settings, group: str, topic: str) -> int:
    """How many records of a fresh `topic` the group has committed (offsets start at 0): read
    directly, where running the group again to see it get nothing would wait out the
    first-record wait. (The embedded broker's end offsets are not usable for this.)"""
    consumer = make_consumer(s.kafka, group, 1)
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        assert parts, f"{topic} has no partitions"
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def run_until_idle(
    s: Settings,
    stage: Stage,
    group: str,
    producer: KafkaProducer | None = None,
    inputs: list[str] | None = None,
    **worker_options: Any,
) -> None:
    """Run `stage` under the real worker on `inputs` (`<prefix>.tickets`) until it idles, then
    close."""
    topics = Topics(s.kafka.topic_prefix)
    worker = StreamWorker(
        make_consumer(s.kafka, group, 100),
        producer if producer is not None else make_producer(s.kafka),
        stage,
        inputs or [topics.tickets],
        topics.dlq,
        **worker_options,
    )
    try:
        # joining the group can take long on a busy shared broker: waited for only until the
        # first records come
        worker.run(threading.Event(), idle_exit_s=2.0, first_wait_s=60.0)
    finally:
        worker.close()
