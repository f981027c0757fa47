"""Names as a city writes them, matched to citybrain ids; ids made from names."""

from __future__ import annotations

import re
import unicodedata

WILDCARDS = {"", "*", "all", "any", "全部", "全市", "全区", "所有", "不限"}
_ALIAS_SPLIT = re.compile(r"[,，;；、|/]")


def key(name: str) -> str:
    """What two spellings of one name share: NFKC (full-width to half-width), case, spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip().casefold()


def split_aliases(cell: str) -> list[str]:
    return [a.strip() for a in _ALIAS_SPLIT.split(cell) if a.strip()]


def slug(text: str, pattern: str = r"^[a-z][a-z0-9_]*$", prefix: str = "x") -> str:
    """A citybrain id from `text` (lower case, `_` for anything else); `prefix_` when it would
    not start with a letter. Empty when nothing of `text` survives."""
    s = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKC", text).casefold()).strip("_")
    if not s:
        return ""
    return s if re.match(pattern, s) else f"{prefix}_{s}"


class Index:
    """Names (ids, English and Chinese names, aliases) -> id; a name two ids share is ambiguous."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self._ids: dict[str, str] = {}
        self._ambiguous: set[str] = set()

    def add(self, id_: str, *names: str) -> None:
        for n in (id_, *names):
            k = key(n)
            if not k:
                continue
            if self._ids.get(k, id_) != id_:
                self._ambiguous.add(k)
            self._ids.setdefault(k, id_)

    def find(self, name: str) -> tuple[str | None, str]:
        """(id, "") or (None, why not)."""
        k = key(name)
        if k in self._ambiguous:
            return None, f"{self.noun} {name!r} names more than one {self.noun}"
        if k in self._ids:
            return self._ids[k], ""
        return None, f"unknown {self.noun} {name!r}"
