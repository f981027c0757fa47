"""Redaction on arbitrary text: it never raises, and no long digit run survives it, however the
digits are written (full-width, superscript, split by invisible characters)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from citybrain.core.redaction import redact

_PIECES = st.sampled_from(
    [
        "1", "3", "8", "0", "X", "x", " ", "-", ".", "·", "\u200b", "\u202e", "\ufeff", "１",
        "３", "８", "¹", "(", ")", "（", "）", "@", "a", "浙", "A", "我是", "张", "王", "路",
        "Name: ", "Mr. ", "Smith", "微信", "QQ", ":", "：", "电话", "\n", "+86",
    ]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=120).map("".join))


def _digit_view(text: str) -> str:
    kept = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return "".join(unicodedata.normalize("NFKC", c) for c in kept)


@given(_TEXT)
def test_redaction_never_raises_and_leaves_no_long_digit_run(text: str) -> None:
    out = redact(text)
    assert out.total == sum(out.counts.values())
    assert not re.search(r"\d{9}", _digit_view(out.text)), out.text
    assert not any(unicodedata.category(c) == "Cf" for c in out.text)
