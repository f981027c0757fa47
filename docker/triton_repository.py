"""Turn the repository `citybrain models export` writes into the one the Triton image serves.

The export holds each model twice: config.pbtxt for the Python backend (bundled with the
nvidia-pytriton wheel the tests use) and config.libtorch.pbtxt for Triton's PyTorch backend,
beside the same TorchScript 1/model.pt. NVIDIA's Triton image serves the PyTorch backend,
so this keeps the libtorch config as config.pbtxt and drops the Python backend's model.py,
then checks the result is what the vision pod expects (docker/triton.Dockerfile,
k8s/base/vision.yaml): every expected model, a libtorch config that names it, its weights.

    python docker/triton_repository.py REPOSITORY [--models detector,clip_image]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

MODELS = ("detector", "clip_image")  # citybrain/vision/backends/base.py: DETECTOR, CLIP_IMAGE


class LayoutError(ValueError):
    """The repository is not a complete citybrain export."""


def to_libtorch(repo: Path, models: tuple[str, ...] = MODELS) -> list[Path]:
    """Rewrite `repo` in place for the PyTorch backend; returns the files it serves."""
    problems = []
    for name in models:
        folder = repo / name
        if not (folder / "config.libtorch.pbtxt").is_file() and not _is_libtorch(folder):
            problems.append(f"{name}: no config.libtorch.pbtxt (not a citybrain export?)")
        if not (folder / "1" / "model.pt").is_file():
            problems.append(f"{name}: no 1/model.pt")
    if problems:
        raise LayoutError("; ".join(problems))
    for name in models:
        folder = repo / name
        libtorch = folder / "config.libtorch.pbtxt"
        if libtorch.is_file():
            libtorch.replace(folder / "config.pbtxt")
        (folder / "1" / "model.py").unlink(missing_ok=True)
    return check(repo, models)


def _is_libtorch(folder: Path) -> bool:
    config = folder / "config.pbtxt"
    return config.is_file() and 'platform: "pytorch_libtorch"' in config.read_text()


def check(repo: Path, models: tuple[str, ...] = MODELS) -> list[Path]:
    """The served files, after checking each model folder is complete and consistent."""
    problems, files = [], []
    for name in models:
        config = repo / name / "config.pbtxt"
        weights = repo / name / "1" / "model.pt"
        if not config.is_file() or not weights.is_file():
            problems.append(f"{name}: needs config.pbtxt and 1/model.pt")
            continue
        text = config.read_text()
        if not _is_libtorch(repo / name):
            problems.append(f"{name}: config.pbtxt is not for the PyTorch backend")
        if re.search(rf'^name:\s*"{re.escape(name)}"\s*$', text, re.M) is None:
            problems.append(f"{name}: config.pbtxt names another model")
        if (repo / name / "1" / "model.py").exists():
            problems.append(f"{name}: 1/model.py left over (Python backend)")
        files += [config, weights]
    if problems:
        raise LayoutError("; ".join(problems))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    try:
        files = to_libtorch(args.repository, tuple(args.models.split(",")))
    except LayoutError as e:
        print(f"triton repository: {e}", file=sys.stderr)
        return 1
    for f in files:
        print(f.relative_to(args.repository))
    return 0


if __name__ == "__main__":
    sys.exit(main())
