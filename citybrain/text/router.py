"""A ticket router learned from a city's own history: TF-IDF of character n-grams (text/grams:
Han unigrams and bigrams, in-word n-grams of other words), the scores of a domain prior
trained once on public citizen letters (text/prior), and a class-balanced linear SVM with
calibrated probabilities; plus the past tickets nearest to each new one.

The n-grams read Chinese without word segmentation and English with its typos. The same
vectors (without the prior) find the most similar past tickets, which a dispatcher can read
to check a routing. Balanced class weights keep the small departments from being swallowed by
the largest; sigmoid calibration (cross-validated) makes the auto-dispatch threshold mean
what it says on tickets the router never saw. The district, when the history has one, is a
one-hot feature beside the text, and so is the pair (district, text) for texts the history
repeats verbatim (structured request types): the same complaint goes to different units in
different districts, which a sum of text and district features alone cannot express.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from citybrain.core.history import Example
from citybrain.core.messages import LabelScore, RouterAdvice, SimilarTicket
from citybrain.text import DEFAULT_PRIOR
from citybrain.text.errors import RouterError
from citybrain.text.grams import NgramTfidf, counts
from citybrain.text.prior import DomainPrior, load_prior

log = logging.getLogger(__name__)

ModelKind = Literal["logreg", "svm"]
LabelKind = Literal["department", "category", "label"]
MAX_NEIGHBOUR_ROWS = 50_000  # past tickets kept for "similar tickets" (the newest)
SIMILAR_TEXT_CHARS = 300
MIN_DF_ROWS = 50  # below this many training texts every n-gram counts, even one seen once


@dataclass(frozen=True)
class RouterOptions:
    model: ModelKind = "svm"
    max_features: int = 400_000
    min_df: int = 2  # an n-gram seen in one ticket only is noise to a few hundred tickets
    c: float = 1.0
    district_weight: float = 0.5
    prior: str | None = DEFAULT_PRIOR  # domain prior folder; None: the history alone
    prior_weight: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@lru_cache(maxsize=4)
def _prior(path: str) -> DomainPrior:
    return load_prior(Path(path))


class Featurizer:
    """Text -> TF-IDF of character n-grams, the domain prior's scores and the district
    one-hot beside them."""

    def __init__(self, opts: RouterOptions) -> None:
        self.tfidf = NgramTfidf(min_df=opts.min_df, max_features=opts.max_features)
        self.prior = _prior(opts.prior) if opts.prior else None
        self.prior_weight = opts.prior_weight
        self.district_weight = opts.district_weight
        self.districts: dict[str, int] = {}
        self.pairs: dict[tuple[str, str], int] = {}  # (district, text) seen at least twice

    def fit(self, texts: Sequence[str], districts: Sequence[str | None]) -> sp.csr_matrix:
        if len(texts) < MIN_DF_ROWS:
            self.tfidf.min_df = 1
        hashed = counts(texts)
        text_x = self.tfidf.fit_transform(hashed)
        self.districts = {d: i for i, d in enumerate(sorted({d for d in districts if d}))}
        seen: dict[tuple[str, str], int] = {}
        for d, t in zip(districts, texts, strict=True):
            if d:
                seen[(d, t)] = seen.get((d, t), 0) + 1
        repeated = sorted(k for k, n in seen.items() if n >= 2)
        self.pairs = {k: len(self.districts) + i for i, k in enumerate(repeated)}
        return self.join(text_x, districts, texts, hashed)

    def vectors(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Hashed counts (for the prior) and the router's TF-IDF rows, one pass over the text."""
        hashed = counts(texts)
        return hashed, self.tfidf.transform(hashed)

    def text_vectors(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.vectors(texts)[1]

    def transform(self, texts: Sequence[str], districts: Sequence[str | None]) -> sp.csr_matrix:
        hashed, text_x = self.vectors(texts)
        return self.join(text_x, districts, texts, hashed)

    def join(
        self,
        text_x: sp.csr_matrix,
        districts: Sequence[str | None],
        texts: Sequence[str],
        hashed: sp.csr_matrix | None = None,
    ) -> sp.csr_matrix:
        parts = [sp.csr_matrix(text_x)]
        if self.prior is not None:
            scores = self.prior.scores(texts, hashed) * np.float32(self.prior_weight)
            parts.append(sp.csr_matrix(scores))
        if not self.districts:
            return sp.hstack(parts, format="csr") if len(parts) > 1 else parts[0]
        rows, cols = [], []
        for i, (d, t) in enumerate(zip(districts, texts, strict=True)):
            if not d:
                continue
            for j in (self.districts.get(d), self.pairs.get((d, t))):
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        onehot = sp.csr_matrix(
            (np.full(len(rows), self.district_weight, dtype=np.float32), (rows, cols)),
            shape=(text_x.shape[0], len(self.districts) + len(self.pairs)),
        )
        return sp.hstack([*parts, onehot], format="csr")


def make_classifier(opts: RouterOptions, min_per_label: int) -> Any:
    """A class-balanced LinearSVC under sigmoid calibration (the default: folds limited by
    the rarest label), or multinomial logistic regression (faster to train, behind by 4-14
    points of accuracy on real letters with a short history, docs/QUALITY.md)."""
    if opts.model == "logreg":
        return LogisticRegression(C=opts.c * 10, max_iter=300, random_state=opts.seed)
    folds = max(2, min(3, min_per_label))
    svm = LinearSVC(C=opts.c, class_weight="balanced", random_state=opts.seed)
    return CalibratedClassifierCV(svm, method="sigmoid", cv=folds)


class Model:
    """Featurizer and classifier: fit on examples, probabilities for texts."""

    def __init__(self, opts: RouterOptions) -> None:
        self.opts = opts
        self.features = Featurizer(opts)
        self.clf: Any = None
        self.labels: tuple[str, ...] = ()

    def fit(self, examples: Sequence[Example]) -> sp.csr_matrix:
        """Returns the training matrix (text part first) for the neighbour index."""
        y = [e.label for e in examples]
        per_label: dict[str, int] = {}
        for lab in y:
            per_label[lab] = per_label.get(lab, 0) + 1
        if len(per_label) < 2:
            raise RouterError("a router needs examples of at least two labels")
        once = sorted(lab for lab, n in per_label.items() if n < 2)
        if once and self.opts.model == "svm":
            raise RouterError(
                f"label(s) with a single example cannot be calibrated: {', '.join(once[:5])} "
                "(drop them, as `router train` does, or add examples)"
            )
        x = self.features.fit([e.text for e in examples], [e.district for e in examples])
        self.clf = make_classifier(self.opts, min(per_label.values()))
        self.clf.fit(x, y)
        self.labels = tuple(str(c) for c in self.clf.classes_)
        return x

    def proba(self, texts: Sequence[str], districts: Sequence[str | None]) -> np.ndarray:
        hashed, text_x = self.features.vectors(texts)
        return self.proba_of(text_x, districts, texts, hashed)

    def proba_of(
        self,
        text_x: sp.csr_matrix,
        districts: Sequence[str | None],
        texts: Sequence[str],
        hashed: sp.csr_matrix | None = None,
    ) -> np.ndarray:
        x = self.features.join(text_x, districts, texts, hashed)
        return np.asarray(self.clf.predict_proba(x), dtype=np.float64)


class Neighbours:
    """The newest past tickets as unit TF-IDF rows; cosine similarity is one sparse product."""

    def __init__(self, vectors: sp.csr_matrix, texts: Sequence[str], labels: Sequence[str]):
        self.vectors = sp.csr_matrix(vectors, dtype=np.float32)
        self._by_feature = self.vectors.T.tocsr()  # one transpose, not one per query batch
        self.texts = [t[:SIMILAR_TEXT_CHARS] for t in texts]
        self.labels = list(labels)

    @classmethod
    def build(cls, model: Model, examples: Sequence[Example]) -> Neighbours:
        keep = list(examples)
        if len(keep) > MAX_NEIGHBOUR_ROWS:
            dated = sorted(range(len(keep)), key=lambda i: (keep[i].at is not None, keep[i].at))
            keep = [keep[i] for i in sorted(dated[-MAX_NEIGHBOUR_ROWS:])]
        vec = model.features.text_vectors([e.text for e in keep])
        return cls(vec, [e.text for e in keep], [e.label for e in keep])

    def nearest(self, queries: sp.csr_matrix, k: int) -> list[list[tuple[int, float]]]:
        if self.vectors.shape[0] == 0 or k <= 0:
            return [[] for _ in range(queries.shape[0])]
        sims = (queries @ self._by_feature).toarray()
        k = min(k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out = []
        for row, idx in zip(sims, top, strict=True):
            order = idx[np.argsort(-row[idx])]
            out.append([(int(j), float(row[j])) for j in order])
        return out


class Router:
    """A trained model with its neighbour index; `advise` is what the ticket job calls."""

    def __init__(
        self,
        model: Model,
        neighbours: Neighbours | None,
        kind: LabelKind,
        router_id: str,
        auto_threshold: float | None,
        min_confidence: float = 0.0,
    ) -> None:
        self.model = model
        self.neighbours = neighbours
        self.kind = kind
        self.router_id = router_id
        self.auto_threshold = auto_threshold
        self.min_confidence = min_confidence

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    def predict(
        self, texts: Sequence[str], districts: Sequence[str | None] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Best label and its probability for each text."""
        proba = self.model.proba(texts, districts or [None] * len(texts))
        best = proba.argmax(axis=1)
        return [self.labels[i] for i in best], proba[np.arange(len(best)), best]

    def advise(
        self,
        texts: Sequence[str],
        districts: Sequence[str | None] | None = None,
        top_k: int = 3,
        similar_k: int = 3,
    ) -> list[RouterAdvice]:
        """Top labels with probabilities and the most similar past tickets, per text."""
        if self.kind == "label":
            raise RouterError("this router's labels are no departments or categories")
        dist = list(districts) if districts is not None else [None] * len(texts)
        hashed, text_x = self.model.features.vectors(texts)  # once, for labels and neighbours
        proba = self.model.proba_of(text_x, dist, texts, hashed)
        near: list[list[tuple[int, float]]] = [[] for _ in texts]
        if self.neighbours is not None and similar_k > 0:
            near = self.neighbours.nearest(text_x, similar_k)
        return [
            RouterAdvice(
                router=self.router_id,
                kind=self.kind,
                top=tuple(
                    LabelScore(label=self.labels[i], p=round(float(row[i]), 4))
                    for i in np.argsort(-row)[:top_k]
                ),
                similar=self._similar(hits),
                auto_threshold=self.auto_threshold,
                min_confidence=self.min_confidence,
            )
            for row, hits in zip(proba, near, strict=True)
        ]

    def _similar(self, hits: list[tuple[int, float]]) -> tuple[SimilarTicket, ...]:
        nb = self.neighbours
        if nb is None:
            return ()
        return tuple(
            SimilarTicket(text=nb.texts[j], label=nb.labels[j], similarity=round(min(s, 1.0), 4))
            for j, s in hits
        )
