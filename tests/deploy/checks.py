"""Checks on rendered manifests. Each returns a list of problems (empty: fine), so a test can
assert both that the real manifests pass and that a seeded mistake is reported."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate.utils import schema_contents
from referencing import Registry
from referencing import Resource as SchemaResource

from citybrain.streams.topics import Topics
from tests.deploy.render import Resource, split_image

ROOT = Path(__file__).resolve().parents[2]
CRDS = Path(__file__).parent / "crds"
K8S_VERSION = "1.33"  # the oldest Kubernetes the manifests target (native sidecars, PDB v1)
PREFIX = "city"  # kafka.topic_prefix in k8s/base/citybrain.yaml

CRD_GROUPS = {
    "kafka.strimzi.io/v1beta2": "strimzi.yaml",
    "keda.sh/v1alpha1": "keda.yaml",
    "postgresql.cnpg.io/v1": "cloudnative-pg.yaml",
    "monitoring.coreos.com/v1": "prometheus-operator.yaml",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
# An explicit version (1.2.3, v0.11.0, 25.10-py3, 17.6) or a digest; never latest or none.
TAG = re.compile(r"^v?\d+(\.\d+)+([-.][0-9A-Za-z]+)*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")


def kn(r: Resource) -> str:
    return f"{r.get('kind')}/{r.get('metadata', {}).get('name')}"


def of_kind(resources: Iterable[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r.get("kind") == kind]


# --- schemas ------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """An openAPIV3Schema as JSON Schema with the API server's strict field validation:
    an object with listed properties accepts no others unless it preserves unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(crd_schema(api_version, kind))


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    file = CRD_GROUPS.get(api_version)
    if file is None:
        return None
    schema = yaml.safe_load((CRDS / file).read_text()).get(kind)
    return None if schema is None else _strict(schema)


@cache
def builtin_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's strict schema for a built-in kind, loaded once (its own
    validate() re-reads the 2 MB definitions file on every call)."""
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{K8S_VERSION}.0-local-strict"
    try:
        schema = schema_contents(f"{folder}/{kind.lower()}-{api}.json", K8S_VERSION)
    except FileNotFoundError:
        return None
    definitions = schema_contents(f"{folder}/_definitions.json", K8S_VERSION)
    registry = SchemaResource.from_contents(definitions) @ (
        SchemaResource.from_contents(schema) @ Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_errors(resources: Iterable[Resource]) -> list[str]:
    """Built-in kinds against Kubernetes' strict schemas (kubernetes-validate); custom
    resources against their operators' CRD schemas (tests/deploy/crds)."""
    problems = []
    for r in resources:
        api, kind = str(r.get("apiVersion")), str(r.get("kind"))
        if api in CRD_GROUPS:
            schema = crd_schema(api, kind)
            if schema is None:
                problems.append(f"{kn(r)}: no vendored CRD schema for {api} {kind}")
                continue
            v = crd_validator(api, kind)
            problems += [
                f"{kn(r)}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in v.iter_errors(r)
            ]
            continue
        validator = builtin_validator(api, kind)
        if validator is None:
            problems.append(f"{kn(r)}: no Kubernetes {K8S_VERSION} schema for {api} {kind}")
            continue
        problems += [
            f"{kn(r)}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(r)
        ]
    return problems


# --- single-resource rules ----------------------------------------------------------------


def namespace_errors(resources: Iterable[Resource]) -> list[str]:
    return [
        f"{kn(r)}: no namespace"
        for r in resources
        if r.get("kind") not in CLUSTER_SCOPED and not r.get("metadata", {}).get("namespace")
    ]


def pod_specs(r: Resource) -> Iterator[dict[str, Any]]:
    if r.get("kind") in WORKLOADS:
        yield r["spec"]["template"]["spec"]


def containers(r: Resource) -> Iterator[dict[str, Any]]:
    for spec in pod_specs(r):
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def image_errors(resources: Iterable[Resource]) -> list[str]:
    problems = []
    for r in resources:
        for c in containers(r):
            ref = str(c.get("image", ""))
            name, tag, digest = split_image(ref)
            if not REPOSITORY.match(name):
                problems.append(f"{kn(r)}: {c['name']}: {ref!r}: not registry/repository")
            if digest is not None and not DIGEST.match(digest):
                problems.append(f"{kn(r)}: {c['name']}: {ref!r}: malformed digest")
            if digest is None and (tag is None or not TAG.match(tag)):
                problems.append(
                    f"{kn(r)}: {c['name']}: {ref!r}: needs a version tag (not latest) or a digest"
                )
    return problems


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_errors(resources: list[Resource]) -> list[str]:
    """Every Service port must land on a port its selected workloads' containers declare."""
    problems = []
    for svc in of_kind(resources, "Service"):
        selector = svc["spec"].get("selector", {})
        ns = svc["metadata"].get("namespace")
        targets = [
            w
            for w in resources
            if w.get("kind") in WORKLOADS
            and w["metadata"].get("namespace") == ns
            and _selects(selector, w["spec"]["template"]["metadata"].get("labels", {}))
        ]
        if not targets:
            if selector.get("app.kubernetes.io/name") == "citybrain":
                problems.append(f"{kn(svc)}: selects no workload")
            continue  # pods an operator makes (Strimzi's exporter)
        for w in targets:
            declared = {p.get("name") for c in containers(w) for p in c.get("ports", [])}
            declared |= {p["containerPort"] for c in containers(w) for p in c.get("ports", [])}
            for port in svc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if target not in declared:
                    problems.append(
                        f"{kn(svc)}: port {port.get('name', port['port'])} -> {target}: "
                        f"no such container port in {kn(w)}"
                    )
    return problems


def topic_name(t: Resource) -> str:
    return str(t["spec"].get("topicName") or t["metadata"]["name"])


def topic_errors(resources: Iterable[Resource], prefix: str = PREFIX) -> list[str]:
    """KafkaTopics are exactly the topics of citybrain/streams/topics.py under the prefix."""
    names = [topic_name(t) for t in of_kind(resources, "KafkaTopic")]
    expected = set(Topics(prefix).all())
    problems = [f"KafkaTopic {n}: not under the prefix {prefix}." for n in names if "." not in n]
    problems += [
        f"KafkaTopic {n}: not under the prefix {prefix}."
        for n in names
        if "." in n and not n.startswith(f"{prefix}.")
    ]
    problems += [
        f"KafkaTopic {n}: no such topic in citybrain/streams/topics.py"
        for n in names
        if n.startswith(f"{prefix}.") and n not in expected
    ]
    problems += [f"topic {n}: no KafkaTopic" for n in sorted(expected - set(names))]
    return problems


# --- cross-references ---------------------------------------------------------------------


def job_inputs() -> dict[str, list[str]]:
    """Topics each job consumes, from each job's own JobSpec, so the test follows the code."""
    from citybrain.streams.jobs import JOBS, job_spec

    return {job: job_spec(job).inputs(Topics(PREFIX)) for job in JOBS}


def job_workloads(resources: Iterable[Resource]) -> dict[str, tuple[Resource, dict[str, Any]]]:
    """job -> (workload, container) for containers started as `<entrypoint> <job>`."""
    out = {}
    for r in resources:
        for c in containers(r):
            args = c.get("args") or []
            if args and args[0] in job_inputs():
                out[args[0]] = (r, c)
    return out


def _env(c: dict[str, Any], name: str) -> str | None:
    for e in c.get("env", []):
        if e["name"] == name and "value" in e:
            return str(e["value"])
    return None


def _grants(user: Resource, rtype: str, name: str, op: str) -> bool:
    for acl in user["spec"].get("authorization", {}).get("acls", []):
        res = acl["resource"]
        if res["type"] != rtype or op not in acl["operations"]:
            continue
        pattern = res.get("patternType", "literal")
        if (pattern == "literal" and res.get("name") == name) or (
            pattern == "prefix" and name.startswith(str(res.get("name")))
        ):
            return True
    return False


def operator_secrets(resources: Iterable[Resource]) -> set[str]:
    """Secrets the operators write for the resources in the render."""
    out = set()
    for r in resources:
        name = r["metadata"]["name"]
        if r["kind"] == "KafkaUser":
            out.add(name)
        elif r["kind"] == "Kafka":
            out |= {f"{name}-cluster-ca-cert", f"{name}-clients-ca-cert"}
        elif r["kind"] == "Cluster" and str(r["apiVersion"]).startswith("postgresql.cnpg.io"):
            out |= {f"{name}-app", f"{name}-superuser", f"{name}-ca"}
    return out


def referenced_secrets(r: Resource) -> Iterator[str]:
    for spec in pod_specs(r):
        for v in spec.get("volumes", []):
            if "secret" in v:
                yield v["secret"]["secretName"]
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield ref["name"]
            for src in c.get("envFrom", []):
                if "secretRef" in src:
                    yield src["secretRef"]["name"]
    if r.get("kind") == "TriggerAuthentication":
        yield from (ref["name"] for ref in r["spec"].get("secretTargetRef", []))


def referenced_configmaps(r: Resource) -> Iterator[str]:
    for spec in pod_specs(r):
        for v in spec.get("volumes", []):
            if "configMap" in v:
                yield v["configMap"]["name"]
    if r.get("kind") == "TriggerAuthentication":
        yield from (ref["name"] for ref in r["spec"].get("configMapTargetRef", []))


def crossref_errors(resources: list[Resource]) -> list[str]:
    problems: list[str] = []
    topics = {topic_name(t): t for t in of_kind(resources, "KafkaTopic")}
    partitions = {n: int(t["spec"]["partitions"]) for n, t in topics.items()}
    users = {u["metadata"]["name"]: u for u in of_kind(resources, "KafkaUser")}
    workloads = job_workloads(resources)
    # every job runs, reads topics that exist, and its Kafka user may read them
    for job, inputs in job_inputs().items():
        if job not in workloads:
            problems.append(f"job {job}: no workload runs it")
            continue
        w, c = workloads[job]
        user = users.get(_env(c, "CITYBRAIN_KAFKA__SASL_USERNAME") or "")
        if user is None:
            problems.append(f"{kn(w)}: its Kafka user is not a KafkaUser")
        for topic in inputs:
            if topic not in topics:
                problems.append(f"job {job}: reads {topic}, which is no KafkaTopic")
            elif user is not None and not _grants(user, "topic", topic, "Read"):
                problems.append(f"{kn(user)}: may not read {topic}, which job {job} reads")
        group = f"citybrain.{PREFIX}.{job}"
        if user is not None and not _grants(user, "group", group, "Read"):
            problems.append(f"{kn(user)}: may not join the consumer group {group}")
        # at start a job lists the namespace's topics and creates the missing ones
        # (runtime.run_job -> ensure_topics): a topic it cannot see would look missing
        if user is not None:
            problems += [
                f"{kn(user)}: may not describe {t}, which job {job} lists at start"
                for t in Topics(PREFIX).all()
                if not _grants(user, "topic", t, "Describe")
            ]
        # a workload without an autoscaler: its fixed replicas bound by the partitions
        scaled = {s["spec"]["scaleTargetRef"]["name"] for s in of_kind(resources, "ScaledObject")}
        if w["metadata"]["name"] not in scaled:
            limit = min((partitions.get(t, 0) for t in inputs), default=0)
            if int(w["spec"].get("replicas", 1)) > limit:
                problems.append(f"{kn(w)}: {w['spec']['replicas']} replicas > {limit} partitions")
    # autoscalers: a real target, a real topic, and never more replicas than partitions
    names = {w["metadata"]["name"] for w in resources if w.get("kind") in WORKLOADS}
    for s in of_kind(resources, "ScaledObject"):
        if s["spec"]["scaleTargetRef"]["name"] not in names:
            problems.append(f"{kn(s)}: scales {s['spec']['scaleTargetRef']['name']}, not defined")
        for trig in s["spec"]["triggers"]:
            topic = trig["metadata"].get("topic")
            if topic not in partitions:
                problems.append(f"{kn(s)}: lag of {topic}, which is no KafkaTopic")
            elif int(s["spec"].get("maxReplicaCount", 100)) > partitions[topic]:
                problems.append(
                    f"{kn(s)}: maxReplicaCount {s['spec'].get('maxReplicaCount', 100)} > "
                    f"{partitions[topic]} partitions of {topic}"
                )
    # feedback is co-partitioned with observations (docs/ARCHITECTURE.md)
    t = Topics(PREFIX)
    if partitions.get(t.feedback) != partitions.get(t.observations):
        problems.append(f"{t.feedback} and {t.observations} need equal partitions")
    # every Secret and ConfigMap a pod or an autoscaler reads exists
    secrets = {r["metadata"]["name"] for r in of_kind(resources, "Secret")}
    secrets |= operator_secrets(resources)
    maps = {r["metadata"]["name"] for r in of_kind(resources, "ConfigMap")}
    for r in resources:
        problems += [
            f"{kn(r)}: Secret {n} is not defined" for n in referenced_secrets(r) if n not in secrets
        ]
        problems += [
            f"{kn(r)}: ConfigMap {n} is not defined"
            for n in referenced_configmaps(r)
            if n not in maps
        ]
    # every citybrain workload is fenced in both directions by a NetworkPolicy
    policies = of_kind(resources, "NetworkPolicy")
    for w in resources:
        if w.get("kind") not in WORKLOADS:
            continue
        labels = w["spec"]["template"]["metadata"].get("labels", {})
        fenced = [
            p
            for p in policies
            if _selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        ]
        if not fenced:
            problems.append(f"{kn(w)}: no NetworkPolicy limits its ingress and egress")
    return problems


def all_errors(resources: list[Resource]) -> list[str]:
    return (
        schema_errors(resources)
        + namespace_errors(resources)
        + image_errors(resources)
        + port_errors(resources)
        + topic_errors(resources)
        + crossref_errors(resources)
    )
