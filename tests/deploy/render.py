"""Render a kustomization the way `kustomize build` does, for the features k8s/ uses.

No kustomize binary can be installed here (it is in none of the package registries this
project may use), so the manifest tests render with this small subset instead: resources
(files and folders), namespace, labels (metadata only), configMapGenerator and
secretGenerator (files, literals, envs; name hashes off), JSON 6902 patches with a target
(applied by the jsonpatch library), replicas and images, in kustomize's order (patches,
namespace, labels, replicas, images). Any other field, or a strategic-merge patch, is refused
with an error rather than silently ignored, so the manifests cannot drift into features this
renderer would get wrong. tests/deploy/test_render.py pins each behaviour.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

Resource = dict[str, Any]

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
    "replicas",
    "images",
}
# Kinds kustomize leaves without a namespace (the cluster-scoped ones k8s/ could use).
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}


class RenderError(ValueError):
    """The kustomization is wrong, or uses something this renderer does not implement."""


def render(folder: Path) -> list[Resource]:
    """All resources of the kustomization in `folder`, transformed, in input order."""
    folder = Path(folder)
    file = folder / "kustomization.yaml"
    if not file.is_file():
        raise RenderError(f"{folder}: no kustomization.yaml")
    k = yaml.safe_load(file.read_text()) or {}
    unknown = sorted(set(k) - SUPPORTED)
    if unknown:
        raise RenderError(f"{file}: not supported by this renderer: {', '.join(unknown)}")
    out: list[Resource] = []
    for entry in k.get("resources", []):
        path = folder / entry
        if path.is_dir():
            out += render(path)
        elif path.is_file():
            out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        else:
            raise RenderError(f"{file}: resource {entry} does not exist")
    out += _generated(folder, k)
    for patch in k.get("patches", []):
        _patch(folder, out, patch)
    if "namespace" in k:
        for r in out:
            if r.get("kind") not in CLUSTER_SCOPED:
                r.setdefault("metadata", {})["namespace"] = k["namespace"]
    for group in k.get("labels", []):
        if group.get("includeSelectors") or group.get("includeTemplates"):
            raise RenderError(f"{file}: labels on selectors/templates are not supported")
        for r in out:
            r.setdefault("metadata", {}).setdefault("labels", {}).update(group["pairs"])
    for rep in k.get("replicas", []):
        hits = [r for r in out if r.get("kind") in SCALABLE and _name(r) == rep["name"]]
        if not hits:
            raise RenderError(f"{file}: replicas: no workload named {rep['name']}")
        for r in hits:
            r["spec"]["replicas"] = rep["count"]
    for image in k.get("images", []):
        _set_image(out, image)
    _check_unique(out, file)
    return out


def _name(r: Resource) -> str:
    return str(r.get("metadata", {}).get("name", ""))


def _generated(folder: Path, k: dict[str, Any]) -> list[Resource]:
    options = k.get("generatorOptions", {})
    gens = [("ConfigMap", g) for g in k.get("configMapGenerator", [])]
    gens += [("Secret", g) for g in k.get("secretGenerator", [])]
    if gens and not options.get("disableNameSuffixHash"):
        raise RenderError(f"{folder}: generators need generatorOptions.disableNameSuffixHash")
    out = []
    for kind, g in gens:
        if g.get("behavior", "create") != "create":
            raise RenderError(f"{folder}: generator {g['name']}: only behavior create")
        data: dict[str, str] = {}
        for item in g.get("files", []):
            key, _, rel = item.partition("=") if "=" in item else (Path(item).name, "", item)
            data[key] = _read(folder, rel)
        for item in g.get("literals", []):
            key, sep, value = item.partition("=")
            if not sep:
                raise RenderError(f"{folder}: literal {item!r} has no '='")
            data[key] = value
        for env in g.get("envs", []):
            data.update(_env_file(folder, env))
        r: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": g["name"]}}
        if kind == "Secret":
            r["type"] = g.get("type", "Opaque")
            r["data"] = {k2: base64.b64encode(v.encode()).decode() for k2, v in data.items()}
        else:
            r["data"] = data
        out.append(r)
    return out


def _read(folder: Path, rel: str) -> str:
    path = folder / rel
    if not path.is_file():
        raise RenderError(f"{folder}: generator file {rel} does not exist")
    return path.read_text()


def _env_file(folder: Path, rel: str) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments and blank lines skipped; values kept verbatim."""
    data = {}
    for n, line in enumerate(_read(folder, rel).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise RenderError(f"{folder / rel}:{n}: not KEY=VALUE")
        data[key.strip()] = value
    return data


def _patch(folder: Path, resources: list[Resource], spec: dict[str, Any]) -> None:
    text = spec["patch"] if "patch" in spec else _read(folder, spec["path"])
    ops = yaml.safe_load(text)
    if not isinstance(ops, list):
        raise RenderError(f"{folder}: only JSON 6902 patches (a list of operations)")
    target = spec.get("target")
    if not target:
        raise RenderError(f"{folder}: a JSON 6902 patch needs a target")
    hits = [r for r in resources if _selected(r, target)]
    if not hits:
        raise RenderError(f"{folder}: patch target {target} matches nothing")
    patch = jsonpatch.JsonPatch(ops)
    for r in hits:
        try:
            patched = patch.apply(r)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise RenderError(f"{folder}: patch on {r['kind']}/{_name(r)}: {e}") from e
        r.clear()
        r.update(patched)


def _selected(r: Resource, target: dict[str, Any]) -> bool:
    group, _, version = str(r.get("apiVersion", "")).rpartition("/")
    checks = {
        "kind": r.get("kind"),
        "name": _name(r),
        "namespace": r.get("metadata", {}).get("namespace"),
        "group": group,
        "version": version,
    }
    unknown = set(target) - set(checks)
    if unknown:
        raise RenderError(f"patch target fields not supported: {sorted(unknown)}")
    return all(checks[k] == v for k, v in target.items())


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container and init container below `node`, at any depth (pod templates, CRs)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest of an image reference (a registry port is not a tag)."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _set_image(resources: list[Resource], spec: dict[str, Any]) -> None:
    for r in resources:
        for c in _containers(r):
            name, tag, digest = split_image(str(c.get("image", "")))
            if name != spec["name"]:
                continue
            name = spec.get("newName", name)
            tag = spec.get("newTag", tag)
            if "digest" in spec:
                c["image"] = f"{name}@{spec['digest']}"
            else:
                c["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _check_unique(resources: list[Resource], file: Path) -> None:
    seen = set()
    for r in resources:
        group = str(r.get("apiVersion", "")).rpartition("/")[0]
        key = (group, r.get("kind"), r.get("metadata", {}).get("namespace"), _name(r))
        if key in seen:
            raise RenderError(f"{file}: {r.get('kind')}/{_name(r)} defined twice")
        seen.add(key)


def render_copy(resources: list[Resource]) -> list[Resource]:
    """A deep copy, so a test can break one rendered resource without touching the others."""
    return copy.deepcopy(resources)
