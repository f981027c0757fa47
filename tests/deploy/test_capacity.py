"""The capacity model (tools/capacity.py) and the production overlay agree, and the model's
arithmetic moves the way it must when the city grows."""

from __future__ import annotations

import dataclasses
import shutil
import sys

import pytest

from tests.deploy.checks import ROOT, of_kind
from tests.deploy.render import Resource, render

sys.path.insert(0, str(ROOT / "tools"))
import capacity

sys.path.remove(str(ROOT / "tools"))


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> list[Resource]:
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(ROOT / "k8s", copy)
    prod = copy / "overlays" / "production"
    shutil.copy(prod / "web-secrets.env.example", prod / "web-secrets.env")
    shutil.copy(prod / "camera-credentials.env.example", prod / "camera-credentials.env")
    return render(prod)


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    [r] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return r


def test_production_is_sized_by_the_model(production: list[Resource]) -> None:
    p = capacity.plan(capacity.Assumptions())
    frames = named(production, "KafkaTopic", "city.frames")
    assert frames["spec"]["partitions"] == p.frames_partitions
    assert (
        frames["spec"]["config"]["retention.ms"] == capacity.Assumptions.frames_retention_s * 1000
    )
    assert named(production, "Deployment", "citybrain-vision")["spec"]["replicas"] == p.vision_pods
    pool = named(production, "KafkaNodePool", "brokers")["spec"]
    assert pool["replicas"] == p.brokers
    size = pool["storage"]["volumes"][0]["size"]
    assert size.endswith("Ti") and int(size[:-2]) * 1.0995 >= p.broker_volume_tb  # TiB >= TB
    for s in of_kind(production, "ScaledObject"):
        job = s["metadata"]["name"].removeprefix("citybrain-")
        need = {"tickets": p.ticket_workers, "incidents": p.incident_workers}.get(job, 2)
        assert s["spec"]["minReplicaCount"] <= need <= s["spec"]["maxReplicaCount"]


def test_every_rate_divided_by_is_a_measured_benchmark_number() -> None:
    benchmarks = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    for key, value in capacity.MEASURED.items():
        if key == "frame_bytes":
            assert "11.8 MB" in benchmarks and "360 synthetic" in benchmarks
        else:
            forms = {f"{value:,.1f}", f"{value:.1f}"}
            if value == int(value):
                forms |= {f"{value:,.0f}", f"{value:.0f}"}
            assert any(f in benchmarks for f in forms), key


def test_the_plan_grows_with_the_city() -> None:
    base = capacity.Assumptions()
    p = capacity.plan(base)
    assert p.vision_bottleneck == "worker loop"  # the GPU is not what limits a pod today
    double = capacity.plan(dataclasses.replace(base, cameras=2 * base.cameras))
    assert double.vision_pods in (2 * p.vision_pods, 2 * p.vision_pods - 1)
    assert double.kafka_in_mb_s > 1.99 * p.kafka_in_mb_s
    small = capacity.plan(dataclasses.replace(base, cameras=10, tickets_per_day=100))
    assert (small.vision_pods, small.ticket_workers, small.brokers) == (1, 2, 3)


def test_cli_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    capacity.main(["--cameras", "20000", "--fps", "1", "--tickets-per-day", "100000"])
    out = capsys.readouterr().out
    assert "| vision pods = GPUs (or MIG slices) | 60 |" in out
    assert "| Kafka brokers | 6 |" in out


def test_the_sizing_table_in_the_deployment_guide_is_the_models_output() -> None:
    a = capacity.Assumptions()
    guide = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    assert capacity.table(a, capacity.plan(a)) in guide
