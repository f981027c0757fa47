"""Kafka client settings for a cluster with TLS and a user per job (Strimzi, k8s/)."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import ValidationError

from citybrain.config.kafka import KafkaSettings


def test_plaintext_is_the_default_and_adds_nothing_else() -> None:
    assert KafkaSettings().client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_options_are_keywords_every_kafka_python_client_takes() -> None:
    s = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="citybrain-tickets",
        sasl_password="s3cret",
        ssl_cafile="/etc/citybrain/kafka-ca/ca.crt",
    )
    opts = s.client_options()
    assert opts == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "citybrain-tickets",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": "/etc/citybrain/kafka-ca/ca.crt",
    }
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(opts) <= set(client.DEFAULT_CONFIG), client.__name__
    assert "s3cret" not in repr(s)  # the password never shows in logs


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(
        ValidationError, match="needs sasl_mechanism, sasl_username and sasl_password"
    ):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
