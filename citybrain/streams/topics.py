"""Topic names under a configurable prefix, and their creation."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from citybrain.config.kafka import KafkaSettings

log = logging.getLogger(__name__)


def partition_of(key: str, partitions: int) -> int:
    """The partition a keyed record goes to: the producer's default partitioner (murmur2 of
    the key, as the Java client), so a consumer can tell which cameras a partition holds."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def frames(self) -> str:
        return f"{self.prefix}.frames"

    @property
    def tickets(self) -> str:
        return f"{self.prefix}.tickets"

    @property
    def observations(self) -> str:
        return f"{self.prefix}.observations"

    @property
    def incidents(self) -> str:
        """Every changed incident, keyed by its id: the model step's input."""
        return f"{self.prefix}.incidents"

    @property
    def dispatch(self) -> str:
        return f"{self.prefix}.dispatch"

    @property
    def feedback(self) -> str:
        return f"{self.prefix}.feedback"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def alerts(self) -> str:
        """Hot-spot alerts and periodic digests for operators."""
        return f"{self.prefix}.alerts"

    def all(self) -> list[str]:
        return [
            self.frames,
            self.tickets,
            self.observations,
            self.incidents,
            self.dispatch,
            self.feedback,
            self.dlq,
            self.alerts,
        ]


def ensure_topics(settings: KafkaSettings, retries: int = 20) -> list[str]:
    """Create every topic of the namespace with the configured partitions (idempotent)."""
    names = Topics(settings.topic_prefix).all()
    last: Exception | None = None
    for _ in range(retries):
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.bootstrap_servers, **settings.client_options()
            )
            try:
                existing = set(admin.list_topics())
                missing = [n for n in names if n not in existing]
                if missing:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        admin.create_topics([NewTopic(n, settings.partitions, 1) for n in missing])
                log.info("topics ready: %s", ", ".join(names))
                return names
            finally:
                admin.close()
        except KafkaError as e:  # broker still starting
            last = e
            time.sleep(0.5)
    raise RuntimeError(f"could not create topics: {last}")
