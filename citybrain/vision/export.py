"""Write a Triton model repository for the detector and the CLIP image tower.

    out/detector/config.pbtxt          Python backend (the only one bundled here)
    out/detector/config.libtorch.pbtxt the same model for Triton's PyTorch backend (production)
    out/detector/1/model.py            citybrain/vision/triton_model.py
    out/detector/1/model.pt            TorchScript of the model
    out/clip_image/...                 likewise

Models are traced to TorchScript so the server needs neither ultralytics nor open_clip, and so
one file serves both the Python backend here and the PyTorch backend in production. The
repository is built in a temporary folder beside `out` and swapped in by rename, so a
server never sees half an export; the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from citybrain.config.vision import VisionSettings
from citybrain.vision.backends.base import LABELS_PARAMETER

log = logging.getLogger(__name__)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# _JIT_NOTE: torch 2.14 marks TorchScript deprecated in favour of torch.export, but TorchScript
# is what Triton's PyTorch backend loads today; the warning says nothing actionable here.


@dataclass(frozen=True)
class ServingOptions:
    """How Triton batches and places a model (config.pbtxt)."""

    max_batch_size: int = 64
    preferred_batch_sizes: tuple[int, ...] = (8, 16, 32)
    max_queue_delay_us: int = 2000
    kind: Literal["cpu", "gpu"] = "cpu"
    instances: int = 1
    threads: int = 1  # torch threads per CPU instance
    parameters: Mapping[str, str] = field(default_factory=dict)  # extra model.py parameters


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input: str
    input_dims: tuple[int, ...]  # without the batch dimension
    output: str
    output_dims: tuple[int, ...]
    labels: tuple[str, ...] = ()  # class names by index, so a worker needs no local weights


class RawDetectorHead(nn.Module):
    """The `detector` contract: the first element of a DetectionModel's eval output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)[0]


def detector_module(settings: VisionSettings) -> tuple[nn.Module, tuple[str, ...]]:
    """The configured ultralytics detector (YAML: built with the fixed seed) as a raw head,
    with its class names by index."""
    from citybrain.vision.detector import Detector

    det = Detector.load(settings)
    labels = tuple(det.names[i] for i in range(len(det.names)))
    return RawDetectorHead(det.model.model).eval(), labels  # type: ignore[attr-defined]


def clip_image_module(weights: Path) -> nn.Module:
    """The CLIP image tower of a citybrain CLIP checkpoint."""
    from citybrain.vision.clip import ImageTower, load_clip

    model, _ = load_clip(weights)
    return ImageTower(model).eval()


def _dims(dims: tuple[int, ...]) -> str:
    return ", ".join(str(d) for d in dims)


def config_pbtxt(spec: ModelSpec, opts: ServingOptions, platform: str = "python") -> str:
    """config.pbtxt text: dynamic batching, instance groups, the tensors of the contract."""
    preferred = [b for b in opts.preferred_batch_sizes if b <= opts.max_batch_size]
    head = 'backend: "python"' if platform == "python" else f'platform: "{platform}"'
    params = {"weights": "model.pt", "threads": str(opts.threads), **opts.parameters}
    kind = "KIND_GPU" if opts.kind == "gpu" else "KIND_CPU"
    lines = [
        f'name: "{spec.name}"',
        head,
        f"max_batch_size: {opts.max_batch_size}",
        "input [",
        f'  {{ name: "{spec.input}", data_type: TYPE_FP32, dims: [ {_dims(spec.input_dims)} ] }}',
        "]",
        "output [",
        f'  {{ name: "{spec.output}", data_type: TYPE_FP32, dims: [ {_dims(spec.output_dims)} ] }}',
        "]",
        "dynamic_batching {",
        f"  preferred_batch_size: [ {_dims(tuple(preferred))} ]",
        f"  max_queue_delay_microseconds: {opts.max_queue_delay_us}",
        "}",
        f"instance_group [ {{ count: {opts.instances}, kind: {kind} }} ]",
    ]
    if platform != "python":  # weights and threads are the Python backend's model.py settings
        params = {}
    if spec.labels:
        params[LABELS_PARAMETER] = json.dumps(list(spec.labels))
    for k in sorted(params):
        value = params[k].replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'parameters: {{ key: "{k}", value: {{ string_value: "{value}" }} }}')
    return "\n".join(lines) + "\n"


def trace(module: nn.Module, example: torch.Tensor) -> tuple[torch.jit.ScriptModule, torch.Tensor]:
    """TorchScript of the module and its output on `example`.

    torch's own trace check is off: ultralytics caches anchors per input shape, so its second
    run differs in graph, not in result. Instead the trace must match the eager module on
    another batch size, which also proves the batch dimension stayed dynamic.
    """
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # see _JIT_NOTE
        traced = torch.jit.trace(
            module, example, strict=False, check_trace=False, _store_inputs=False
        )
        out = traced(example)
        other = torch.cat([example, example[:1]])
        diff = float((traced(other) - module(other)).abs().max())
    if diff > 1e-4:
        raise ValueError(f"traced model differs from eager by {diff} at batch {len(other)}")
    return traced, out


def _write_script(traced: torch.jit.ScriptModule, path: Path) -> None:
    """Save TorchScript so equal models give equal bytes.

    torch writes a random serialization id and zip timestamps; the id becomes a digest of
    the content and the timestamps a constant. (Within one process, tracing the same class
    twice mangles its names; a fresh process, as the CLI is, always writes the same file.)
    """
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # see _JIT_NOTE
        torch.jit.save(traced, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        entries = [(i, src.read(i.filename)) for i in src.infolist()]
        digest = hashlib.sha256()
        for info, data in entries:
            if not info.filename.endswith("serialization_id"):
                digest.update(info.filename.encode() + data)
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.external_attr = info.external_attr
            if info.filename.endswith("serialization_id"):
                data = digest.hexdigest()[: len(data)].encode()
            dst.writestr(fixed, data)


def export_repository(
    out: Path,
    models: Mapping[str, tuple[nn.Module, ModelSpec, torch.Tensor]],
    opts: ServingOptions | None = None,
    per_model: Mapping[str, ServingOptions] | None = None,
) -> dict[str, str]:
    """Write one model folder per entry (module, spec, example input); returns sha256 per file.

    `per_model` overrides `opts` for single models. The output dims in each spec are checked
    against the traced output on the example.
    """
    default = opts or ServingOptions()
    template = resources.files("citybrain.vision").joinpath("triton_model.py").read_text()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        for name, (module, spec, example) in sorted(models.items()):
            opts = (per_model or {}).get(name, default)
            traced, y = trace(module, example)
            if tuple(y.shape[1:]) != spec.output_dims:
                raise ValueError(f"{name}: output dims {tuple(y.shape[1:])} != {spec.output_dims}")
            version = tmp / name / "1"
            version.mkdir(parents=True)
            _write_script(traced, version / "model.pt")
            (version / "model.py").write_text(template)
            (tmp / name / "config.pbtxt").write_text(config_pbtxt(spec, opts))
            (tmp / name / "config.libtorch.pbtxt").write_text(
                config_pbtxt(spec, opts, "pytorch_libtorch")
            )
            log.info("exported %s: %s -> %s", name, spec.input_dims, spec.output_dims)
        digests = {
            str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return digests


def _swap_in(new: Path, out: Path) -> None:
    """Replace `out` by `new` with renames; the old tree is removed only afterwards."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / out.name)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def standard_models(
    settings: VisionSettings, clip: nn.Module | None = None
) -> dict[str, tuple[nn.Module, ModelSpec, torch.Tensor]]:
    """`detector` and `clip_image` as the contracts define them, from the configured files."""
    from citybrain.vision.clip import IMAGE_SIZE

    torch.manual_seed(0)
    s = settings.imgsz
    det, labels = detector_module(settings)
    det_example = torch.rand(2, 3, s, s)
    with torch.no_grad():
        det_out = tuple(det(det_example).shape[1:])
    clip_mod = clip if clip is not None else clip_image_module(settings.clip.weights)
    clip_example = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        dim = int(clip_mod(clip_example).shape[1])
    return {
        "detector": (
            det,
            ModelSpec("detector", "images", (3, s, s), "output0", det_out, labels),
            det_example,
        ),
        "clip_image": (
            clip_mod,
            ModelSpec("clip_image", "images", (3, IMAGE_SIZE, IMAGE_SIZE), "embeddings", (dim,)),
            clip_example,
        ),
    }
