"""Kafka connection, topic namespace and consumer tuning."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


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
    # A cluster broker (Strimzi, k8s/) wants TLS and a user per job; the embedded one none.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", title="How clients connect: SASL_SSL for a cluster with users and ACLs"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, title="SASL mechanism (with SASL_*), e.g. SCRAM-SHA-512 for Strimzi's KafkaUsers"
    )
    sasl_username: str | None = Field(None, title="SASL user (with SASL_*)")
    sasl_password: SecretStr | None = Field(
        None, title="SASL password (with SASL_*); from a Secret, never the YAML"
    )
    ssl_cafile: str | None = Field(None, title="CA bundle that signs the brokers' certificates")

    @model_validator(mode="after")
    def _sasl_complete(self) -> "KafkaSettings":
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password"
            )
        return self

    def client_options(self) -> dict[str, Any]:
        """Connection keywords every kafka-python client of this cluster takes."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password is not None  # checked by _sasl_complete
            opts |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        if self.security_protocol in ("SSL", "SASL_SSL") and self.ssl_cafile:
            opts["ssl_cafile"] = self.ssl_cafile
        return opts


class BrokerSettings(BaseModel):
    """The embedded Kafka-compatible broker used by the demo and the tests."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(19092, ge=1, le=65535, title="Listen port")
    storage: str = Field(
        "memory://tansu/", title="Tansu storage engine URL (memory:// or s3://BUCKET/)"
    )
