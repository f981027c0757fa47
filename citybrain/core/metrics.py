"""Classification scores for routing evaluation: accuracy, macro-F1, confusion matrix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    confusion: dict[tuple[str, str], int]  # (true, predicted) -> count
    f1: dict[str, float]


def score(truth: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Macro-F1 averages over every label that occurs as truth or prediction."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    pairs = Counter(zip(truth, predicted, strict=True))
    labels = tuple(sorted(set(truth) | set(predicted)))
    f1: dict[str, float] = {}
    for lab in labels:
        tp = pairs[(lab, lab)]
        fp = sum(n for (t, p), n in pairs.items() if p == lab and t != lab)
        fn = sum(n for (t, p), n in pairs.items() if t == lab and p != lab)
        f1[lab] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    n = len(truth)
    correct = sum(n for (t, p), n in pairs.items() if t == p)
    return Scores(
        n=n,
        accuracy=correct / n if n else 0.0,
        macro_f1=sum(f1.values()) / len(f1) if f1 else 0.0,
        labels=labels,
        confusion=dict(pairs),
        f1=f1,
    )
