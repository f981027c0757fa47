"""How much a ticket says what an open incident's reports say, for fusion's paraphrase join
(`core/fusion.py` takes it through the `TextMatcher` protocol, so the core stays free of text
features).

Features are the router's own n-grams (`text.grams`: Han 1-2-grams, in-word 1-4-grams of other
scripts), so Chinese needs no segmenter and typos still share most grams. They are weighed by
TF-IDF whose document frequencies are those of the ticket texts fusion holds right now (the
reports behind its open and recently resolved incidents): greetings, "please deal with it" and
redacted contact details are in many reports and weigh little; a street name, 积水 or "water"
in a few weigh much. The frequencies change only when fusion's state does, so replaying a
stream gives the same scores, and a restart that reloads the same incidents rebuilds them.

The city's own place names (streets, landmarks, districts, with their aliases) are masked
first: fusion has already checked the place, and two problems at one crossing must not look
alike for naming it. The score against an incident is the best cosine against any one of its
reports: a paraphrase resembles one report, rarely all of them."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from citybrain.core.city import City
from citybrain.text.grams import grams

REDACTED = re.compile(r"\[[A-Z_]+\d*\]")  # [PHONE], [NAME]: the same in many reports
MAX_CHARS = 2000  # a report states its problem in its first page; bounds the cost per ticket


def city_place_names(city: City) -> list[str]:
    """Every name of the city's streets, landmarks and districts, aliases included."""
    names = [n for st in city.streets for n in (st.name, st.name_zh, *st.aliases)]
    names += [n for lm in city.landmarks for n in (lm.name, lm.name_zh, *lm.aliases)]
    return names + [n for d in city.districts for n in (d.name, d.name_zh)]


def place_pattern(place_names: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern of all the names, longest first (a street inside a landmark's name)."""
    names = sorted({n for n in place_names if n.strip()}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)), re.I) if names else None


class ParaphraseMatcher:
    def __init__(self, place_names: Iterable[str] = ()) -> None:
        self._places = place_pattern(place_names)
        self._docs: dict[str, Counter[str]] = {}
        self._df: Counter[str] = Counter()

    @classmethod
    def for_city(cls, city: City) -> ParaphraseMatcher:
        return cls(city_place_names(city))

    def _grams(self, text: str) -> Counter[str]:
        text = REDACTED.sub(" ", text[:MAX_CHARS])
        if self._places is not None:
            text = self._places.sub(" ", text)
        return Counter(grams(text))

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, key: str, text: str) -> None:
        """Hold one report's text under its observation id (again: no change)."""
        if key in self._docs:
            return
        g = self._grams(text)
        self._docs[key] = g
        self._df.update(g.keys())

    def drop(self, key: str) -> None:
        g = self._docs.pop(key, None)
        if g is None:
            return
        self._df.subtract(g.keys())
        for k in g:
            if self._df[k] <= 0:
                del self._df[k]

    def clear(self) -> None:
        self._docs.clear()
        self._df.clear()

    def score(self, text: str, keys: Iterable[str]) -> float:
        """Best cosine of `text` against the held reports among `keys` (0 when none is held)."""
        docs = [self._docs[k] for k in keys if k in self._docs]
        q = self._weights(self._grams(text))
        qn = _norm(q)
        return max((_cosine(q, qn, self._weights(d)) for d in docs), default=0.0)

    def _weights(self, g: Counter[str]) -> dict[str, float]:
        n = len(self._docs)
        return {
            k: (1.0 + math.log(tf)) * (math.log((1 + n) / (1 + self._df[k])) + 1.0)
            for k, tf in g.items()
        }


def _norm(w: dict[str, float]) -> float:
    return math.sqrt(sum(v * v for v in w.values()))


def _cosine(q: dict[str, float], qn: float, w: dict[str, float]) -> float:
    wn = _norm(w)
    if qn == 0.0 or wn == 0.0:
        return 0.0
    return sum(v * w[g] for g, v in q.items() if g in w) / (qn * wn)
