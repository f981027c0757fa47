"""Hot issues planted among real letters (../shared/datasets/letters_cn): a 50-letter issue in
many wordings, 30 % of it without the estate's name, stays one issue, and another matter at the
same estate stays apart. Skips where the shared data is absent."""

from __future__ import annotations

import random
from datetime import datetime

from citybrain.core.hot_issues import Letter, clean_letters
from citybrain.text.hot_issues import find_hot_issues
from citybrain.text.hot_issues_io import read_letters
from tests.shared_data import DATASETS, require
from tools.hot_issues_check import planted


def test_planted_issues_are_found_whole_among_real_letters() -> None:
    path = require(DATASETS / "letters_cn" / "letters.csv")
    rows, _ = read_letters(path, ["id", "subject", "detail", "created"])
    real, _ = clean_letters(rows[:3000], "id", ["subject", "detail"], "created", None, None,
                            datetime(2026, 1, 1))  # fmt: skip
    real = [Letter(f"r{i}", x.text, x.at, x.likes) for i, x in enumerate(real)]
    plants = planted(random.Random(0), 0.3)
    issues = find_hot_issues(real + [x for v in plants.values() for x in v], top=10)
    for tag, letters in plants.items():
        truth = {x.id for x in letters}
        f1, rank = max((2 * len(set(i.ids) & truth) / (len(i.ids) + len(truth)), i.rank)
                       for i in issues)  # fmt: skip
        assert f1 >= 0.9 and rank <= 3, (tag, f1, rank)
