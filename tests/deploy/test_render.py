"""The kustomize subset in tests/deploy/render.py behaves as `kustomize build` documents."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from tests.deploy.render import RenderError, render, split_image

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"a": "b"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {
                "initContainers": [{"name": "init", "image": "reg.example:5000/x/app:1.0.0"}],
                "containers": [
                    {"name": "app", "image": "reg.example:5000/x/app:1.0.0"},
                    {"name": "other", "image": "other/img:2.0.0"},
                ],
            },
        },
    },
}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}


def write(folder: Path, kustomization: dict, **files: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, content in files.items():
        text = content if isinstance(content, str) else yaml.safe_dump_all(content)
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def test_base_then_overlay_namespace_labels_replicas_images(tmp_path: Path) -> None:
    write(tmp_path / "base", {"resources": ["app.yaml"]}, app_yaml=[DEPLOY])
    write(
        tmp_path / "over",
        {
            "namespace": "city",
            "resources": ["ns.yaml", "../base"],
            "labels": [{"pairs": {"part-of": "citybrain"}}],
            "replicas": [{"name": "app", "count": 5}],
            "images": [{"name": "reg.example:5000/x/app", "newName": "r/app", "newTag": "2.1.0"}],
        },
        ns_yaml=[NS],
    )
    ns, dep = render(tmp_path / "over")
    assert "namespace" not in ns["metadata"]  # cluster-scoped
    assert dep["metadata"]["namespace"] == "city"
    assert dep["metadata"]["labels"] == {"part-of": "citybrain"}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"a": "b"}  # templates untouched
    assert dep["spec"]["selector"] == {"matchLabels": {"a": "b"}}  # selectors untouched
    assert dep["spec"]["replicas"] == 5
    pod = dep["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == "r/app:2.1.0"
    assert [c["image"] for c in pod["containers"]] == ["r/app:2.1.0", "other/img:2.0.0"]


def test_image_digest_and_registry_port() -> None:
    assert split_image("reg:5000/a/b") == ("reg:5000/a/b", None, None)
    assert split_image("reg:5000/a/b:1.2") == ("reg:5000/a/b", "1.2", None)
    assert split_image("a/b@sha256:ab") == ("a/b", None, "sha256:ab")


def test_image_digest_replaces_the_tag(tmp_path: Path) -> None:
    digest = "sha256:" + "0" * 64
    write(
        tmp_path,
        {"resources": ["app.yaml"], "images": [{"name": "other/img", "digest": digest}]},
        app_yaml=[DEPLOY],
    )
    [dep] = render(tmp_path)
    assert dep["spec"]["template"]["spec"]["containers"][1]["image"] == f"other/img@{digest}"


def test_json6902_patch_on_every_resource_of_a_kind(tmp_path: Path) -> None:
    other = {**DEPLOY, "metadata": {"name": "two"}}
    patch = "- {op: replace, path: /spec/replicas, value: 1}\n"
    write(
        tmp_path,
        {
            "resources": ["app.yaml"],
            "patches": [{"target": {"kind": "Deployment"}, "patch": patch}],
        },
        app_yaml=[DEPLOY, other],
    )
    assert [d["spec"]["replicas"] for d in render(tmp_path)] == [1, 1]


def test_patch_errors_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "resources": ["app.yaml"],
            "patches": [{"target": {"kind": "Service"}, "patch": "- {op: remove, path: /x}"}],
        },
        app_yaml=[DEPLOY],
    )
    with pytest.raises(RenderError, match="matches nothing"):
        render(tmp_path)
    write(
        tmp_path,
        {
            "resources": ["app.yaml"],
            "patches": [{"target": {"kind": "Deployment"}, "patch": "- {op: remove, path: /x}"}],
        },
    )
    with pytest.raises(RenderError, match="Deployment/app"):
        render(tmp_path)


def test_generators_configmap_files_and_secret_envs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configMapGenerator": [{"name": "cfg", "files": ["a.yaml", "b.conf=a.yaml"]}],
            "secretGenerator": [{"name": "s", "envs": ["s.env"], "literals": ["x=1"]}],
            "generatorOptions": {"disableNameSuffixHash": True},
        },
        a_yaml="k: v\n",
        s_env='# comment\n\nuser=[{"a":"$argon2id$x"}]\nempty=\n',
    )
    cm, secret = render(tmp_path)
    assert cm == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a.yaml": "k: v\n", "b.conf": "k: v\n"},
    }
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"user": '[{"a":"$argon2id$x"}]', "empty": "", "x": "1"}
    assert secret["type"] == "Opaque"


def test_bad_env_line_names_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "secretGenerator": [{"name": "s", "envs": ["s.env"]}],
            "generatorOptions": {"disableNameSuffixHash": True},
        },
        s_env="a=1\nno equals sign\n",
    )
    with pytest.raises(RenderError, match=r"s\.env:2: not KEY=VALUE"):
        render(tmp_path)


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ({"namePrefix": "x-"}, "not supported by this renderer: namePrefix"),
        ({"configMapGenerator": [{"name": "c", "literals": ["a=b"]}]}, "disableNameSuffixHash"),
        ({"resources": ["missing.yaml"]}, "does not exist"),
        (
            {"resources": ["app.yaml"], "patches": [{"patch": "kind: Deployment\n"}]},
            "only JSON 6902",
        ),
        ({"resources": ["app.yaml", "app.yaml"]}, "defined twice"),
        ({"resources": ["app.yaml"], "replicas": [{"name": "nope", "count": 1}]}, "no workload"),
    ],
)
def test_unsupported_or_wrong_kustomizations_are_refused(
    tmp_path: Path, kustomization: dict, message: str
) -> None:
    write(tmp_path, kustomization, app_yaml=[DEPLOY])
    with pytest.raises(RenderError, match=message):
        render(tmp_path)
