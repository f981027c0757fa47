"""Each seeded mistake (fixtures/) is reported by the same checks the real manifests pass,
and is the only thing reported: the checks can fail, and fail for the right reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.checks import all_errors
from tests.deploy.render import render

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("missing-namespace", ["ConfigMap/citybrain-extra: no namespace"]),
        (
            "latest-image",
            [
                f"{kind}/citybrain-{job}: {container}: "
                "'registry.city.example/citybrain/app:latest': needs a version tag (not latest) "
                "or a digest"
                for kind, job, container in [
                    ("Deployment", "tickets", "tickets"),
                    ("Deployment", "incidents", "incidents"),
                    ("Deployment", "dispatch", "dispatch"),
                    ("Deployment", "vision", "vision"),
                    ("Deployment", "cameras", "cameras"),
                    ("Deployment", "web", "web"),
                    ("Job", "db-upgrade", "db-upgrade"),
                ]
            ],
        ),
        (
            "port-mismatch",
            [
                "Service/citybrain-web: port http -> 8081: no such container port in "
                "Deployment/citybrain-web"
            ],
        ),
        ("unprefixed-topic", ["KafkaTopic frames: not under the prefix city."]),
    ],
)
def test_seeded_mistake_is_caught(fixture: str, expected: list[str]) -> None:
    assert sorted(all_errors(render(FIXTURES / fixture))) == sorted(expected)
