"""Triton model repository export: config.pbtxt content, determinism, atomic replacement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from google.protobuf import text_format
from torch import nn
from tritonclient.grpc import model_config_pb2

from citybrain.vision.export import ModelSpec, ServingOptions, config_pbtxt, export_repository

SPEC = ModelSpec("clip_image", "images", (3, 8, 8), "embeddings", (4,))


class Tiny(nn.Module):
    """A stand-in tower: conv + pool + linear, unit-normalised like the CLIP contract."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.fc(self.conv(x).mean(dim=(2, 3))), dim=-1)


def parse(text: str) -> model_config_pb2.ModelConfig:
    """Parse with Triton's own ModelConfig schema: a typo in a field name fails here."""
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_python_backend_config_has_batching_instances_and_tensors() -> None:
    opts = ServingOptions(
        max_batch_size=16,
        preferred_batch_sizes=(4, 8, 32),
        max_queue_delay_us=1500,
        instances=2,
        threads=3,
        parameters={"delay_s": "0.5"},
    )
    cfg = parse(config_pbtxt(SPEC, opts))
    assert cfg.name == "clip_image" and cfg.backend == "python"
    assert cfg.max_batch_size == 16
    assert list(cfg.dynamic_batching.preferred_batch_size) == [4, 8]  # 32 > max batch: dropped
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 1500
    [group] = cfg.instance_group
    assert group.count == 2 and group.kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    [inp], [out] = cfg.input, cfg.output
    assert (inp.name, list(inp.dims), inp.data_type) == (
        "images",
        [3, 8, 8],
        model_config_pb2.TYPE_FP32,
    )
    assert (out.name, list(out.dims)) == ("embeddings", [4])
    params = {k: v.string_value for k, v in cfg.parameters.items()}
    assert params == {"weights": "model.pt", "threads": "3", "delay_s": "0.5"}


def test_detector_labels_travel_in_both_variants() -> None:
    """Class names with characters the text format must escape come back exactly."""
    labels = ("flood_water", 'say "bin"', "back\\slash", "积水")
    spec = ModelSpec("detector", "images", (3, 8, 8), "output0", (6, 4), labels)
    for platform in ("python", "pytorch_libtorch"):
        cfg = parse(config_pbtxt(spec, ServingOptions(), platform))
        assert tuple(json.loads(cfg.parameters["labels"].string_value)) == labels


def test_gpu_and_libtorch_variants() -> None:
    gpu = parse(config_pbtxt(SPEC, ServingOptions(kind="gpu")))
    assert gpu.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    lt = parse(config_pbtxt(SPEC, ServingOptions(), "pytorch_libtorch"))
    assert lt.platform == "pytorch_libtorch" and not lt.backend and not lt.parameters


def _models() -> dict[str, tuple[nn.Module, ModelSpec, torch.Tensor]]:
    return {"clip_image": (Tiny(), SPEC, torch.rand(2, 3, 8, 8))}


EXPORT_TINY = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_export import _models
from citybrain.vision.export import export_repository
print(json.dumps(export_repository(Path(sys.argv[1]), _models())))
"""


def test_export_is_deterministic_and_loadable(tmp_path: Path) -> None:
    # two fresh processes, as two runs of the CLI would be
    here = str(Path(__file__).parent)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", EXPORT_TINY, str(tmp_path / name), here],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    a, b = (json.loads(p.communicate(timeout=120)[0]) for p in runs)
    assert a == b  # same bytes, file by file
    assert set(a) == {
        "clip_image/config.pbtxt",
        "clip_image/config.libtorch.pbtxt",
        "clip_image/1/model.py",
        "clip_image/1/model.pt",
    }
    scripted = torch.jit.load(str(tmp_path / "a" / "clip_image" / "1" / "model.pt"))
    x = torch.rand(5, 3, 8, 8)  # another batch size than traced with
    assert torch.allclose(scripted(x), Tiny()(x), atol=1e-6)
    assert "TritonPythonModel" in (tmp_path / "a" / "clip_image" / "1" / "model.py").read_text()


def test_export_replaces_the_old_repository_atomically(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    (out / "stale_model").mkdir(parents=True)
    export_repository(out, _models())
    assert sorted(p.name for p in out.iterdir()) == ["clip_image"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # no temp folders left


def test_wrong_output_dims_fail_and_leave_the_old_repository(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    export_repository(out, _models())
    before = sorted(str(p) for p in out.rglob("*"))
    bad = ModelSpec("clip_image", "images", (3, 8, 8), "embeddings", (5,))
    with pytest.raises(ValueError, match="output dims"):
        export_repository(out, {"clip_image": (Tiny(), bad, torch.rand(2, 3, 8, 8))})
    assert sorted(str(p) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]
