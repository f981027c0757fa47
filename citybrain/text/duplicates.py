"""Near-duplicate tickets through the router's own vectors: the same problem reported many
times in different words. Character n-grams of two paraphrased Chinese letters overlap far more
than letters about different problems (the paraphrase pairs of tests/unit/text/test_duplicates.py
score 0.18-0.51 cosine, different problems <= 0.02, with a router trained on 4,998 real
letters), so a cosine threshold groups them without a separate embedding model. The hot-issue
grouping (text/hot_issues.py) is the one that reads places and matters; this stays the quick
offline check of one router's vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citybrain.text.router import Router

DEFAULT_THRESHOLD = 0.2


def similarity(router: Router, texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of every pair (rows are unit TF-IDF vectors)."""
    x = router.model.features.text_vectors(list(texts))
    return np.asarray((x @ x.T).toarray())


def near_duplicate_groups(
    router: Router, texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[list[int]]:
    """Indices grouped by single linkage at `threshold`; groups of two or more, largest first."""
    sim = similarity(router, texts)
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(sim, k=1) >= threshold), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
