"""Kafka connection, topic namespace and consumer tuning."""

from pydantic import BaseModel, ConfigDict, Field


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str = Field(
        "127.0.0.1:19092", title="Bootstrap servers, comma-separated (any Kafka-protocol broker)"
    )
    topic_prefix: str = Field(
        "city", pattern=r"^[A-Za-z0-9_-]+$", title="Namespace for topics; a replay uses its own"
    )
    partitions: int = Field(3, ge=1, title="Partitions per topic when citybrain creates topics")
    group_prefix: str = Field("citybrain", title="Prefix of the consumer group ids")
    max_poll_interval_ms: int = Field(
        10_000,
        ge=1000,
        title="Consumer max poll interval; also bounds how long a group join waits",
    )
    session_timeout_ms: int = Field(10_000, ge=1000, title="Consumer session timeout")
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, title="Largest record the producers send or consumers fetch"
    )
    poll_timeout_ms: int = Field(500, ge=10, title="How long one poll waits for records")


class BrokerSettings(BaseModel):
    """The embedded Kafka-compatible broker used by the demo and the tests."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(19092, ge=1, le=65535, title="Listen port")
    storage: str = Field(
        "memory://tansu/", title="Tansu storage engine URL (memory:// or s3://BUCKET/)"
    )
