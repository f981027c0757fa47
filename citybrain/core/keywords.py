"""Keyword classification of ticket text against the taxonomy.

A cheap, explainable first pass: every category's English and Chinese keywords are matched,
the longest total match wins (so '占道施工' beats '占道'), and ties go to `unclassified`
rather than a guess. The matched keywords are returned so the decision can be shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citybrain.core.city import UNCLASSIFIED, City


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: float
    matched: tuple[str, ...]


class KeywordClassifier:
    def __init__(self, city: City) -> None:
        self._patterns: list[tuple[str, list[tuple[str, re.Pattern[str]]]]] = []
        for cat in city.categories:
            pats = [(kw, re.compile(rf"(?i)\b{re.escape(kw)}\b")) for kw in cat.keywords_en]
            pats += [(kw, re.compile(re.escape(kw))) for kw in cat.keywords_zh]
            self._patterns.append((cat.id, pats))

    def classify(self, text: str) -> Classification:
        scores: list[tuple[int, str, tuple[str, ...]]] = []
        for cat, pats in self._patterns:
            hits = tuple(kw for kw, p in pats if p.search(text))
            if hits:
                scores.append((sum(len(h) for h in hits), cat, hits))
        if not scores:
            return Classification(UNCLASSIFIED, 0.0, ())
        scores.sort(reverse=True)
        best = scores[0]
        if len(scores) > 1 and scores[1][0] == best[0]:
            return Classification(UNCLASSIFIED, 0.0, best[2] + scores[1][2])
        runner_up = scores[1][0] if len(scores) > 1 else 0
        confidence = round(min(0.95, 0.5 + 0.45 * (best[0] - runner_up) / best[0]), 3)
        return Classification(best[1], confidence, best[2])
