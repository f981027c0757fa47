"""The fixed validation split every routing figure on a real history is reported on: 10 % of
the rows, stratified by label, seed 0. Fixed so that a change is compared on the same
letters, and carved once so that nothing (features, model, weights, the domain prior) is
chosen on them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

VALIDATION_FRACTION = 0.1
SEED = 0


def fixed_split(labels: Sequence[str]) -> tuple[list[int], list[int]]:
    """Row indices of the training and validation parts."""
    idx = np.arange(len(labels))
    train, val = train_test_split(
        idx, test_size=VALIDATION_FRACTION, stratify=list(labels), random_state=SEED
    )
    return sorted(int(i) for i in train), sorted(int(i) for i in val)
