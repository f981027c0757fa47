"""Both overlays of k8s/ render, pass every schema and cross-reference check, and say what
docs/DEPLOYMENT.md says they say. Offline: no cluster, no kustomize binary."""

from __future__ import annotations

import base64
import copy
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
import yaml

from citybrain.config import load_settings
from citybrain.config.web import WebSettings
from citybrain.streams.topics import Topics
from citybrain.web.doors import refusals
from tests.deploy.checks import ROOT, all_errors, containers, job_inputs, of_kind
from tests.deploy.render import Resource, render

OVERLAYS = ("dev", "production")


@cache
def _rendered(overlay: str, tmp: str) -> tuple[Resource, ...]:
    if overlay != "production":
        return tuple(render(ROOT / "k8s" / "overlays" / overlay))
    # production reads its web Secret from a file kept out of git: use the example
    copy = Path(tmp) / "k8s"
    shutil.copytree(ROOT / "k8s", copy)
    prod = copy / "overlays" / "production"
    shutil.copy(prod / "web-secrets.env.example", prod / "web-secrets.env")
    shutil.copy(prod / "camera-credentials.env.example", prod / "camera-credentials.env")
    return tuple(render(prod))


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Resource]]:
    tmp = str(tmp_path_factory.mktemp("k8s"))
    return {o: [dict(r) for r in _rendered(o, tmp)] for o in OVERLAYS}


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    [r] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return r


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_passes_every_check(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    resources = manifests[overlay]
    assert len(resources) > 50
    assert all_errors(resources) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_of_the_code_is_a_kafka_topic_and_every_job_runs(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    names = {t["metadata"]["name"] for t in of_kind(manifests[overlay], "KafkaTopic")}
    assert names == set(Topics("city").all())
    assert set(job_inputs()) == {"vision", "tickets", "incidents", "dispatch"}


def test_production_scales_to_the_partitions(manifests: dict[str, list[Resource]]) -> None:
    prod = manifests["production"]
    parts = {t["metadata"]["name"]: t["spec"]["partitions"] for t in of_kind(prod, "KafkaTopic")}
    scaled = {s["metadata"]["name"]: s for s in of_kind(prod, "ScaledObject")}
    assert set(scaled) == {"citybrain-tickets", "citybrain-incidents", "citybrain-dispatch"}
    for s in scaled.values():
        [trigger] = s["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert (
            trigger["metadata"]["consumerGroup"] == f"citybrain.city.{s['metadata']['name'][10:]}"
        )
        assert s["spec"]["maxReplicaCount"] == parts[trigger["metadata"]["topic"]]
    assert one(prod, "Deployment", "citybrain-vision")["spec"]["replicas"] == parts["city.frames"]
    dev = manifests["dev"]
    assert {s["spec"]["maxReplicaCount"] for s in of_kind(dev, "ScaledObject")} == {3}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_vision_pod_is_triton_and_worker_on_a_gpu_sharing_memory(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    pod = one(manifests[overlay], "Deployment", "citybrain-vision")["spec"]["template"]["spec"]
    triton, worker = pod["containers"]
    assert (triton["name"], worker["name"], worker["args"]) == ("triton", "vision", ["vision"])
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    [shm] = [v for v in pod["volumes"] if v["name"] == "dshm"]
    assert shm["emptyDir"]["medium"] == "Memory"
    for c in (triton, worker):
        assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_limits_and_runs_unprivileged(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    for w in of_kind(manifests[overlay], "Deployment"):
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, w["metadata"]["name"]
        for c in containers(w):
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) <= set(res["limits"]), c["name"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_and_web_have_disruption_budgets(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    budgets = {p["metadata"]["name"] for p in of_kind(manifests[overlay], "PodDisruptionBudget")}
    assert {f"citybrain-{j}" for j in ("tickets", "incidents", "dispatch", "vision", "web")} <= (
        budgets
    )


def test_alert_rules_cover_lag_dlq_cameras_and_triton(manifests: dict[str, list[Resource]]) -> None:
    [rule] = of_kind(manifests["production"], "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "CitybrainConsumerLagGrowing",
        "CitybrainDeadLetterRate",
        "CitybrainCameraSilent",
        "CitybrainTritonNotReady",
    }
    assert 'topic="city.dlq"' in alerts["CitybrainDeadLetterRate"]
    assert "seen_ms" in alerts["CitybrainCameraSilent"]  # the vision stage's per-camera stat


def test_ingress_serves_the_web_service_over_tls(manifests: dict[str, list[Resource]]) -> None:
    prod = manifests["production"]
    ingress = one(prod, "Ingress", "citybrain-web")
    [tls] = ingress["spec"]["tls"]
    assert tls["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    svc = one(prod, "Service", backend["name"])
    assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_map_is_valid_citybrain_config_without_credentials(
    manifests: dict[str, list[Resource]],
    overlay: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What each container gets (the ConfigMap file and its env, Secrets filled with stand-in
    values) is accepted by citybrain's own settings; no credential sits in the ConfigMap."""
    resources = manifests[overlay]
    text = one(resources, "ConfigMap", "citybrain-config")["data"]["citybrain.yaml"]
    config = yaml.safe_load(text)
    # the URL carries a password: built from the CNPG Secret
    assert "url" not in config.get("store", {})
    secret_keys = {"sasl_password", "session_secret", "users", "api_key", "open311_api_keys"}
    assert not {k for section in config.values() for k in section} & secret_keys
    cfg = tmp_path / "citybrain.yaml"
    cfg.write_text(text)
    secret = one(resources, "Secret", "citybrain-web")
    stand_in = {
        "citybrain-web": {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    }
    broker_max = one(resources, "Kafka", "citybrain-kafka")["spec"]["kafka"]["config"][
        "message.max.bytes"
    ]
    checked = []
    for w in of_kind(resources, "Deployment"):
        for c in containers(w):
            if "/citybrain/app:" not in str(c["image"]):
                continue
            checked.append(c["name"])
            with monkeypatch.context() as m:
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    value = e.get("value") or stand_in.get(ref["name"], {}).get(ref["key"], "x")
                    m.setenv(e["name"], value)
                m.setenv("CITYBRAIN_CONFIG", str(cfg))
                s = load_settings()
            assert s.kafka.security_protocol == "SASL_SSL"
            assert s.kafka.max_request_bytes == broker_max  # larger records: refused by Kafka
            assert s.kafka.sasl_username == w["metadata"]["name"]
            assert s.vision.backend == "triton" and s.llm.embedded is False
            if c["args"] == ["web"]:
                assert s.web.session_secret and s.web.users
    assert sorted(checked) == ["cameras", "dispatch", "incidents", "tickets", "vision", "web"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_dev_overlay_runs_the_web_in_demo_mode(
    manifests: dict[str, list[Resource]], overlay: str
) -> None:
    """The dev cluster signs in with the demo accounts, which only demo mode accepts; the
    production example's placeholders are refused at start-up until they are replaced."""
    pod = one(manifests[overlay], "Deployment", "citybrain-web")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env.get("CITYBRAIN_WEB__DEMO_MODE") == ("true" if overlay == "dev" else None)
    if overlay == "production":
        secret = one(manifests[overlay], "Secret", "citybrain-web")["data"]
        placeholder = base64.b64decode(secret["session_secret"]).decode()
        web = WebSettings(session_secret=placeholder)
        assert any("published" in p for p in refusals(web))


def test_dev_users_are_the_demo_accounts() -> None:
    users = yaml.safe_load((ROOT / "config" / "citybrain.yaml").read_text())["web"]["users"]
    env = (ROOT / "k8s" / "overlays" / "dev" / "web.env").read_text()
    assert all(u["password_hash"] in env for u in users)


def _drop_describe(rs: list[Resource]) -> None:
    user = one(rs, "KafkaUser", "citybrain-vision")
    user["spec"]["authorization"]["acls"] = [
        a for a in user["spec"]["authorization"]["acls"] if a["resource"]["name"] != "city."
    ]


def _unknown_secret(rs: list[Resource]) -> None:
    pod = one(rs, "Deployment", "citybrain-web")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    env["CITYBRAIN_WEB__USERS"]["valueFrom"]["secretKeyRef"]["name"] = "citybrain-web-users"


def _too_many_replicas(rs: list[Resource]) -> None:
    one(rs, "ScaledObject", "citybrain-incidents")["spec"]["maxReplicaCount"] = 4


def _unequal_copartitions(rs: list[Resource]) -> None:
    one(rs, "KafkaTopic", "city.feedback")["spec"]["partitions"] = 6


def _missing_input_topic(rs: list[Resource]) -> None:
    rs.remove(one(rs, "KafkaTopic", "city.incidents"))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_describe, "KafkaUser/citybrain-vision: may not describe city.tickets"),
        (_unknown_secret, "Deployment/citybrain-web: Secret citybrain-web-users is not defined"),
        (_too_many_replicas, "maxReplicaCount 4 > 3 partitions of city.observations"),
        (_unequal_copartitions, "city.feedback and city.observations need equal partitions"),
        (_missing_input_topic, "job dispatch: reads city.incidents, which is no KafkaTopic"),
    ],
)
def test_cross_reference_mistakes_are_reported(
    manifests: dict[str, list[Resource]], mutate: Callable[[list[Resource]], None], expected: str
) -> None:
    rs = copy.deepcopy(manifests["dev"])
    mutate(rs)
    problems = all_errors(rs)
    assert any(expected in p for p in problems), problems
