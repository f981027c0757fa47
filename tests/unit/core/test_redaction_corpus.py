"""The hand-written redaction corpus: every case must come out exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from citybrain.core.redaction import redact

_CORPUS = yaml.safe_load(
    (Path(__file__).parent / "data" / "redaction_corpus.yaml").read_text("utf-8")
)
_CASES = [
    (group, i, text, want) for group, rows in _CORPUS.items() for i, (text, want) in enumerate(rows)
]


def test_corpus_is_large_and_covers_both_directions() -> None:
    assert len(_CASES) >= 200
    negatives = [c for c in _CASES if c[0] == "negative"]
    assert len(negatives) >= 50
    assert all(text == want for _, _, text, want in negatives)


@pytest.mark.parametrize(
    ("text", "want"), [(t, w) for _, _, t, w in _CASES], ids=[f"{g}-{i}" for g, i, _, _ in _CASES]
)
def test_corpus_case(text: str, want: str) -> None:
    assert redact(text).text == want
