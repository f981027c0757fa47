"""The router's view of a ticket's text: Han characters as unigrams and bigrams, other words
as character n-grams within the word.

Chosen on the fixed validation split of real Chinese citizen letters (docs/QUALITY.md): with
a few hundred letters to learn from, Han unigrams + bigrams beat 1-3 and 1-4 character
n-grams by 2-8 points of accuracy (longer grams are seen once and only add noise), while
English and pinyin words keep the in-word n-grams that read through typos. Digits are left
out: phone numbers, dates and house numbers name no department. Text is NFKC-normalised so
full-width letters and digits read as their ASCII forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKENS = re.compile(rf"[{_HAN}]+|[^\W\d_{_HAN}]+")
LATIN_MAX = 4  # longest in-word n-gram of a non-Han word


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def grams(text: str) -> list[str]:
    """Features of one text, for TfidfVectorizer(analyzer=grams)."""
    out: list[str] = []
    for m in _TOKENS.finditer(normalise(text)):
        tok = m.group()
        if tok[0] >= "\u3400" and _is_han(tok[0]):
            out.extend(tok)
            out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
        else:
            w = f" {tok} "
            for n in range(1, LATIN_MAX + 1):
                out.extend(w[i : i + n] for i in range(len(w) - n + 1))
    return out


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


# Hashed counts: the n-grams of a text are made (in Python) and hashed (in C) once, then
# weighed by as many TF-IDF views as need them (the router's and the domain prior's).
N_HASHED = 2**21
_HASHER = HashingVectorizer(
    analyzer=grams, n_features=N_HASHED, alternate_sign=False, norm=None, dtype=np.float32
)


def counts(texts: Sequence[str]) -> sp.csr_matrix:
    """n-gram counts of each text in hashed columns (collisions are rare at 2^21)."""
    return sp.csr_matrix(_HASHER.transform(texts))


class NgramTfidf:
    """Sublinear TF-IDF over the hashed columns seen in at least `min_df` training texts (at
    most the `max_features` most frequent), L2-normalised: a compact matrix whatever the
    hashing width."""

    def __init__(self, min_df: int = 1, max_features: int | None = None) -> None:
        self.min_df = min_df
        self.max_features = max_features
        self.columns = np.zeros(0, dtype=np.int64)
        self.tfidf = TfidfTransformer(sublinear_tf=True)

    def fit_transform(self, x: sp.csr_matrix) -> sp.csr_matrix:
        df = np.bincount(x.indices, minlength=x.shape[1])
        keep = np.flatnonzero(df >= self.min_df)
        if self.max_features is not None and len(keep) > self.max_features:
            keep = np.sort(keep[np.argsort(-df[keep], kind="stable")[: self.max_features]])
        if len(keep) == 0:
            raise ValueError("no n-gram is frequent enough to learn from")
        self.columns = keep
        return sp.csr_matrix(self.tfidf.fit_transform(x[:, keep]), dtype=np.float32)

    def transform(self, x: sp.csr_matrix) -> sp.csr_matrix:
        return sp.csr_matrix(self.tfidf.transform(x[:, self.columns]), dtype=np.float32)

    @property
    def n_features(self) -> int:
        return len(self.columns)
