"""A domain prior: what a model trained once on thousands of public citizen letters thinks a
text is about, as a handful of scores the city's own router learns to use.

A city that starts with a few hundred labelled tickets cannot learn from them alone what
5,000 letters teach (docs/QUALITY.md: the learning curve). The prior carries that knowledge
as features, not as labels: its scores for the 7 first-level domains of 12345 letters sit
beside the city's n-grams, and the city's classifier decides how much they say about its own
departments or categories (nothing, for a city whose tickets the prior cannot read).

For the texts it was trained on, the prior answers with out-of-fold scores (kept by a hash of
the text at training time): a router trained on a history that overlaps the prior's own
training letters then sees the prior as it would see new text, not as an oracle, so its
cross-validated threshold still holds on unseen tickets.

The file is a pickle (scikit-learn): it is loaded only after its sha256 matches the manifest
beside it, from bytes read once.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from citybrain.text.errors import ArtefactError, RouterError
from citybrain.text.grams import NgramTfidf, counts

MAX_FEATURES = 60_000


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _fit(x: sp.csr_matrix, labels: Sequence[str], c: float) -> tuple[NgramTfidf, Any]:
    tfidf = NgramTfidf(min_df=2, max_features=MAX_FEATURES)
    clf = LinearSVC(C=c, class_weight="balanced", random_state=0)
    clf.fit(tfidf.fit_transform(x), labels)
    return tfidf, clf


@dataclass
class DomainPrior:
    """Scores of each domain for a text (LinearSVC margins); `domains` names the columns."""

    tfidf: NgramTfidf
    clf: Any
    domains: tuple[str, ...]
    held_out: dict[bytes, np.ndarray]  # text key -> out-of-fold scores of a training letter
    info: dict[str, Any]

    @classmethod
    def train(
        cls, texts: Sequence[str], labels: Sequence[str], folds: int = 5, c: float = 1.0
    ) -> DomainPrior:
        rarest = min(Counter(labels).values())
        if rarest < folds:
            raise RouterError(f"a domain has {rarest} letters: too few for {folds} folds")
        x = counts(texts)
        tfidf, clf = _fit(x, labels, c)
        domains = tuple(str(d) for d in clf.classes_)
        held: dict[bytes, np.ndarray] = {}
        y = np.asarray(labels)
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        for tr, te in split.split(np.zeros(len(y)), y):
            t, m = _fit(x[tr], y[tr].tolist(), c)  # every fold holds every domain
            scores = m.decision_function(t.transform(x[te]))
            for row, i in enumerate(te):
                held[text_key(texts[i])] = scores[row].astype(np.float32)
        info = {"rows": len(texts), "folds": folds, "c": c, "features": tfidf.n_features}
        return cls(tfidf, clf, domains, held, info)

    def scores(self, texts: Sequence[str], x: sp.csr_matrix | None = None) -> np.ndarray:
        """`x`: the texts' hashed counts when the caller has them already."""
        x = counts(texts) if x is None else x
        out = np.asarray(self.clf.decision_function(self.tfidf.transform(x)), dtype=np.float32)
        if self.held_out:
            for i, t in enumerate(texts):
                oof = self.held_out.get(text_key(t))
                if oof is not None:
                    out[i] = oof
        return out

    def save(self, folder: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        joblib.dump(self, buf, compress=3)
        blob = buf.getvalue()
        (folder / "prior.joblib").write_bytes(blob)
        manifest = {
            "kind": "domain-prior",
            "domains": list(self.domains),
            "sklearn_version": sklearn.__version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(blob).hexdigest(),
            **self.info,
            **(extra or {}),
        }
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        (folder / "manifest.json").write_text(text, encoding="utf-8")
        return manifest


def load_prior(folder: Path) -> DomainPrior:
    """Refuses a missing, damaged or replaced file, or one another scikit-learn pickled."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        blob = (folder / "prior.joblib").read_bytes()
    except (OSError, ValueError) as e:
        raise ArtefactError(f"{folder}: no readable domain prior here: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("kind") != "domain-prior":
        raise ArtefactError(f"{folder}: manifest.json does not describe a domain prior")
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        raise ArtefactError(f"{folder}/prior.joblib: does not match its manifest")
    trained = str(manifest.get("sklearn_version", "")).split(".")[:2]
    if trained != sklearn.__version__.split(".")[:2]:
        raise ArtefactError(
            f"{folder}: pickled by scikit-learn {manifest.get('sklearn_version')}, this "
            f"environment has {sklearn.__version__}: train it again (tools/train_letters_prior.py)"
        )
    prior = joblib.load(io.BytesIO(blob))
    if not isinstance(prior, DomainPrior):
        raise ArtefactError(f"{folder}/prior.joblib: not a domain prior")
    return prior
