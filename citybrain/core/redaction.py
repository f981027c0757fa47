"""Remove personal data from ticket text before any model, log or store sees it.

The same result gates the store, the prompts and the webhooks, so a miss leaks everywhere.
Matching runs on a *view* of the text: invisible format characters (zero-width, bidi
controls) removed and every character NFKC-normalised (full-width digits and letters become
ASCII, full-width brackets and ``＠`` too). A match in the view is mapped back to the text,
so what is kept reads as the reporter wrote it; the format characters are dropped from the
result as well. Digit runs are found with their separators (space, dot, dash, middle dot)
and judged by their digits: mobile or landline, resident ID (18 or old 15 digits), bank card
(Luhn), else a catch-all for long runs. What is removed becomes a typed placeholder, so a
reader still knows something was there. Every pattern is linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from citybrain.core.redaction_rules import AFTER_RUNS, BEFORE_RUNS, HOUSE_NUMBERS, Span

_SEP = r"(?: ?[-.·•・_~–—)]? ?)"  # ")" for "(159)1234-5678"
_RUN = re.compile(rf"\d(?:{_SEP}\d)*")
_GROUP = re.compile(r"\d+")
_ID_X = re.compile(r" ?[-.]? ?[Xx](?![A-Za-z0-9])")
_PHONE_KEYWORD = re.compile(
    r"(?i)(?:电话|手机|座机|联系方式|tel|phone|mobile|call)\s*(?:号码|号|number|no\.?)?\s*[:：]?\s*$"
)
_MOBILE = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_MAX_GROUPS = 22  # "0086 138 1234 5678" spelt digit by digit is the longest strong shape


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _view(text: str) -> tuple[str, str, list[int]]:
    """The text without format characters, its NFKC view, and each view char's source."""
    kept = "".join(ch for ch in text if ch.isascii() or unicodedata.category(ch) != "Cf")
    if kept.isascii():
        return kept, kept, list(range(len(kept)))
    view: list[str] = []
    src: list[int] = []
    for i, ch in enumerate(kept):
        norm = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
        view.append(norm)
        src.extend([i] * len(norm))
    return kept, "".join(view), src


def _birth_date_ok(yyyy: int, mm: int, dd: int) -> bool:
    return 1850 <= yyyy <= 2099 and 1 <= mm <= 12 and 1 <= dd <= 31


def _is_id(digits: str, x_suffix: bool) -> bool:
    if (x_suffix and len(digits) == 17) or (not x_suffix and len(digits) == 18):
        body = digits[:17]
        return body[0] in "12345678" and _birth_date_ok(
            int(body[6:10]), int(body[10:12]), int(body[12:14])
        )
    if len(digits) == 15 and not x_suffix:
        return digits[0] in "12345678" and _birth_date_ok(
            1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
        )
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _strong(groups: list[str], x_suffix: bool) -> str | None:
    """The kind of personal number these digit groups spell, if any."""
    digits = "".join(groups)
    if _is_id(digits, x_suffix):
        return "ID"
    if x_suffix:
        return None
    if _MOBILE.fullmatch(digits):
        return "PHONE"
    if (len(groups) == 1 and re.fullmatch(r"0\d{9,11}", digits)) or (
        len(groups) > 1
        and re.fullmatch(r"0\d{2,3}", groups[0])
        and 7 <= len(digits) - len(groups[0]) <= 8
    ):
        return "PHONE"
    # Written in fours it is a card whatever its check digit; run together, only by Luhn.
    in_fours = len(groups) >= 4 and all(len(g) == 4 for g in groups[:-1])
    if 16 <= len(digits) <= 19 and digits[0] in "23456" and (in_fours or _luhn(digits)):
        return "CARD"
    return None


def _runs(view: str) -> list[Span]:
    """Digit runs with separators → PHONE / ID / CARD / NUMBER spans."""
    out: list[Span] = []
    for m in _RUN.finditer(view):
        groups = [(g.start() + m.start(), g.end() + m.start()) for g in _GROUP.finditer(m[0])]
        x = _ID_X.match(view, m.end())
        keyword = _PHONE_KEYWORD.search(view, max(0, m.start() - 24), m.start())
        leftover: list[tuple[int, int]] = []
        i = 0
        while i < len(groups):
            for j in range(min(len(groups), i + _MAX_GROUPS), i, -1):
                parts = [view[s:e] for s, e in groups[i:j]]
                label = _strong(parts, x is not None and j == len(groups))
                if label:
                    end = x.end() if label == "ID" and x and j == len(groups) else groups[j - 1][1]
                    out.extend(
                        _catch_all(view, leftover, keyword is not None and i == len(leftover))
                    )
                    leftover = []
                    start = groups[i][0]
                    if (label == "PHONE" and start > 0 and view[start - 1] == "+") or (
                        start > 0 and view[start - 1] == "(" and ")" in view[start:end]
                    ):
                        start -= 1
                    out.append(Span(start, end, label))
                    i = j
                    break
            else:
                leftover.append(groups[i])
                i += 1
        out.extend(_catch_all(view, leftover, keyword is not None and i == len(leftover)))
    return out


def _catch_all(view: str, groups: list[tuple[int, int]], after_keyword: bool) -> list[Span]:
    """Long digit runs are personal until shown otherwise: account, QQ and order numbers;
    legitimate counts, years, dates and amounts in a ticket stay far below these lengths.
    Right after a phone keyword, a local number without area code (7+ digits) is a phone."""
    if not groups:
        return []
    n = sum(e - s for s, e in groups)
    if after_keyword and n >= 7:
        return [Span(groups[0][0], groups[-1][1], "PHONE")]
    if n >= 11 or any(e - s >= 9 for s, e in groups):
        return [Span(groups[0][0], groups[-1][1], "NUMBER")]
    return []


def _spans(view: str, house_numbers: bool) -> list[Span]:
    """Every detector's spans in order of authority; a span overlapping an earlier one loses."""
    found: list[Span] = []
    for rule in BEFORE_RUNS:
        found.extend(rule(view))
    found.extend(_runs(view))
    for rule in AFTER_RUNS:
        found.extend(rule(view))
    if house_numbers:
        found.extend(HOUSE_NUMBERS(view))
    kept: list[Span] = []
    taken = bytearray(len(view) + 1)
    for s in found:
        if not any(taken[s.start : s.end]):
            kept.append(s)
            taken[s.start : s.end] = b"\x01" * (s.end - s.start)
    return sorted(kept, key=lambda s: s.start)


def redact(text: str, house_numbers: bool = False) -> Redaction:
    """The text with personal data replaced by ``[LABEL]``, and how many of each."""
    kept, view, src = _view(text)
    counts: dict[str, int] = {}
    pieces: list[str] = []
    at = 0
    for s in _spans(view, house_numbers):
        start, end = src[s.start], src[s.end - 1] + 1
        if start < at:
            continue
        pieces.append(kept[at:start])
        pieces.append(f"[{s.label}]")
        counts[s.label] = counts.get(s.label, 0) + 1
        at = end
    pieces.append(kept[at:])
    return Redaction(text="".join(pieces), counts=counts)
