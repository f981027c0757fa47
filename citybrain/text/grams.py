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
