"""Path labels: hotline taxonomies have two or three levels (一级/二级/三级分类), written
`城乡建设/物业管理`. The router learns the full paths; when it is not sure of the lowest
level it may still be sure of the one above (the probabilities of a parent's children add
up), and a department responsible for the whole parent can take the ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SEP = "/"


def levels(label: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in label.split(SEP) if p.strip())


def depth(label: str) -> int:
    return len(levels(label))


def prefix(label: str, n: int) -> str:
    """The label cut to its first n levels (the whole label if it has fewer)."""
    return SEP.join(levels(label)[:n])


def ancestors(label: str) -> tuple[str, ...]:
    """The label and every level above it, most specific first."""
    parts = levels(label)
    return tuple(SEP.join(parts[:n]) for n in range(len(parts), 0, -1))


def normalise(label: str) -> str:
    """`a / b /` and `a/b` are the same path."""
    return SEP.join(levels(label)) if SEP in label else label.strip()


@dataclass(frozen=True)
class LevelChoice:
    label: str  # the path at the level chosen
    p: float  # its probability (the sum over its children)
    level: int  # 1 = top level
    fell_back: bool  # a level above the best full path was chosen


def choose_level(labels: Sequence[str], proba: Sequence[float], min_p: float) -> LevelChoice:
    """The most specific level whose best path reaches `min_p`; else the top level's best.

    Probabilities of paths sharing a prefix are summed, so a ticket split between two
    sub-categories of one first-level domain is still confidently that domain."""
    best = max(range(len(labels)), key=lambda i: proba[i])
    full = depth(labels[best])
    if proba[best] >= min_p or full <= 1:
        return LevelChoice(labels[best], float(proba[best]), full, False)
    for n in range(full - 1, 0, -1):
        summed: dict[str, float] = {}
        for lab, p in zip(labels, proba, strict=True):
            key = prefix(lab, n)
            summed[key] = summed.get(key, 0.0) + float(p)
        top, p_top = max(summed.items(), key=lambda kv: kv[1])
        if p_top >= min_p or n == 1:
            return LevelChoice(top, p_top, n, True)
    raise AssertionError("unreachable: level 1 always returns")


def level_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> dict[int, float]:
    """Accuracy at each level both paths reach: level 1 compares first-level domains."""
    deepest = max((depth(t) for t in truth), default=0)
    out: dict[int, float] = {}
    for n in range(1, deepest + 1):
        pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if depth(t) >= n]
        if pairs:
            out[n] = sum(prefix(t, n) == prefix(p, n) for t, p in pairs) / len(pairs)
    return out
