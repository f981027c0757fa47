"""Stratified k-fold cross-validation of the router, with a fixed seed: held-out accuracy,
macro-F1, the confusion matrix and the coverage-precision curve that sets the threshold at
which the router may dispatch on its own."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from citybrain.core.coverage import (
    CurvePoint,
    Operating,
    coverage_curve,
    curve_summary,
    operating_point,
)
from citybrain.core.history import Example
from citybrain.core.label_paths import level_accuracy
from citybrain.core.metrics import Scores, score
from citybrain.text.errors import RouterError
from citybrain.text.router import Model, RouterOptions

TARGET_PRECISION = 0.95


@dataclass(frozen=True)
class CVResult:
    folds: int
    scores: Scores
    curve: list[CurvePoint]
    operating: Operating
    top3: float  # share of tickets whose true label is among the router's three best
    seconds: float
    levels: dict[int, float] = field(default_factory=dict)  # path labels: accuracy per level

    def as_dict(self, confusion: bool = True) -> dict[str, Any]:
        s = self.scores
        out: dict[str, Any] = {
            "folds": self.folds,
            "n": s.n,
            "accuracy": round(s.accuracy, 4),
            "macro_f1": round(s.macro_f1, 4),
            "top3_accuracy": round(self.top3, 4),
            "f1": {k: round(v, 4) for k, v in s.f1.items()},
            "auto_dispatch": {
                "target_precision": self.operating.target,
                "threshold": self.operating.threshold,
                "coverage": round(self.operating.coverage, 4),
                "precision": round(self.operating.precision, 4),
            },
            "curve": [_point(p) for p in curve_summary(self.curve)],
            "seconds": round(self.seconds, 1),
        }
        if len(self.levels) > 1:
            out["level_accuracy"] = {str(k): round(v, 4) for k, v in self.levels.items()}
        if confusion:
            out["confusion"] = [
                {"truth": t, "predicted": p, "n": n} for (t, p), n in sorted(s.confusion.items())
            ]
        return out


def cross_validate(
    examples: Sequence[Example],
    opts: RouterOptions,
    k: int = 5,
    target: float = TARGET_PRECISION,
) -> CVResult:
    """Every example is predicted once by a router that never saw it."""
    if k < 2:
        raise RouterError("cross-validation needs at least 2 folds")
    y = np.array([e.label for e in examples])
    smallest = min(Counter(y.tolist()).values())
    if smallest < k:
        raise RouterError(
            f"a label has only {smallest} examples: too few for {k} folds "
            f"(use fewer folds, or drop labels with under {k} examples)"
        )
    started = time.perf_counter()
    truth: list[str] = [""] * len(examples)
    pred: list[str] = [""] * len(examples)
    conf = np.zeros(len(examples))
    in_top3 = np.zeros(len(examples), dtype=bool)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=opts.seed)
    for train_idx, test_idx in folds.split(np.zeros(len(y)), y):
        model = Model(opts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of small folds
            model.fit([examples[i] for i in train_idx])
        test = [examples[i] for i in test_idx]
        proba = model.proba([e.text for e in test], [e.district for e in test])
        labels = np.array(model.labels)
        best = proba.argmax(axis=1)
        top = np.argsort(-proba, axis=1)[:, :3]
        for row, i in enumerate(test_idx):
            truth[i] = str(y[i])
            pred[i] = str(labels[best[row]])
            conf[i] = proba[row, best[row]]
            in_top3[i] = y[i] in labels[top[row]]
    correct = [t == p for t, p in zip(truth, pred, strict=True)]
    curve = coverage_curve(conf.tolist(), correct)
    return CVResult(
        folds=k,
        scores=score(truth, pred),
        curve=curve,
        operating=operating_point(curve, target),
        top3=float(in_top3.mean()),
        seconds=time.perf_counter() - started,
        levels=level_accuracy(truth, pred),
    )


def baseline_cv(examples: Sequence[Example], k: int = 5, seed: int = 0) -> Scores:
    """The floor every routing report shows beside the router, on the same folds: character
    1-3-gram TF-IDF and a class-balanced LinearSVC, text only, nothing tuned."""
    y = np.array([e.label for e in examples])
    pred: list[str] = [""] * len(examples)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(np.zeros(len(y)), y):
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        x = vec.fit_transform([examples[i].text for i in train_idx])
        clf = LinearSVC(class_weight="balanced", random_state=seed).fit(x, y[train_idx])
        got = clf.predict(vec.transform([examples[i].text for i in test_idx]))
        for row, i in enumerate(test_idx):
            pred[i] = str(got[row])
    return score([str(v) for v in y], pred)


def _point(p: CurvePoint) -> dict[str, float]:
    return {
        "threshold": round(p.threshold, 4),
        "coverage": round(p.coverage, 4),
        "precision": round(p.precision, 4),
    }
