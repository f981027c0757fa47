"""A city's ticket history made fit to learn from, with an account of every row left out.

Real exports are messy: rows without text or label, texts of 100,000 characters, GBK bytes
inside a UTF-8 file, the same ticket exported twice, labels used by one ticket, a label that
changed meaning when a department was reorganised. Each problem is repaired or the row is
dropped, and counted, so the report says what the router was trained on and why the rest
was not. Text is redacted here, before any model sees it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from citybrain.core.label_paths import SEP, ancestors
from citybrain.core.label_paths import normalise as normalise_label
from citybrain.core.redaction import redact
from citybrain.errors import CityBrainError

MAX_CHARS = 4000  # longer texts are cut here: the router reads characters, not essays
MIN_EXAMPLES = 2  # a label seen once can neither be learned nor held out
_CJK = re.compile(r"[\u4e00-\u9fff]")
_HIGH_LATIN = re.compile(r"[\u0080-\u00ff]")
_SPACE = re.compile(r"\s+")
_TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",  # Socrata (311) exports
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


class HistoryError(CityBrainError):
    """The history cannot train a router; `report` says what was found."""

    def __init__(self, message: str, report: HistoryReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Columns:
    text: str
    label: str
    district: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class Example:
    """One redacted ticket and the label the city gave it."""

    text: str
    label: str
    district: str | None = None
    at: datetime | None = None


@dataclass
class HistoryReport:
    rows: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    repaired: Counter[str] = field(default_factory=Counter)  # what was fixed -> rows
    labels: Counter[str] = field(default_factory=Counter)  # kept rows per label
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "repaired": dict(self.repaired),
            "labels": dict(self.labels),
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        out = [f"{self.rows} rows read, {self.kept} kept, {len(self.labels)} labels"]
        out += [f"dropped {n}: {why}" for why, n in sorted(self.dropped.items())]
        out += [f"repaired {n}: {what}" for what, n in sorted(self.repaired.items())]
        return out + self.notes


def repair_text(s: str) -> tuple[str, str | None]:
    """Undo the two common encoding accidents; returns the text and what was repaired.

    Bytes that were not UTF-8 arrive as surrogate escapes (the file is read with
    `errors="surrogateescape"`) and are decoded as GB18030; GBK text once decoded as
    Latin-1 and saved as UTF-8 (mojibake such as 'Â·Ã¨') is turned back."""
    if any("\udc80" <= ch <= "\udcff" for ch in s):
        raw = s.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("gb18030"), "gbk_bytes"
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace"), "undecodable_bytes"
    if len(_HIGH_LATIN.findall(s)) >= 4 and not _CJK.search(s):
        try:
            fixed = s.encode("latin-1").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return s, None
        if len(_CJK.findall(fixed)) * 2 >= len(_HIGH_LATIN.findall(s)) * 0.8:
            return fixed, "mojibake"
    return s, None


def parse_time(value: str) -> datetime | None:
    """Naive UTC (an aware time is converted), so times of one history always compare."""
    v = value.strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    try:
        at = datetime.fromisoformat(v)
    except ValueError:
        return None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def missing_columns(header: Sequence[str], cols: Columns) -> list[str]:
    wanted = [c for c in (cols.text, cols.label, cols.district, cols.time) if c]
    return [c for c in wanted if c not in header]


def clean_history(
    rows: Sequence[Mapping[str, str | None]],
    cols: Columns,
    label_map: Mapping[str, str] | None = None,
    max_chars: int = MAX_CHARS,
    min_examples: int = MIN_EXAMPLES,
    house_numbers: bool = False,
) -> tuple[list[Example], HistoryReport]:
    """Repair, redact, deduplicate and filter; raises HistoryError when nothing learnable is
    left (fewer than two labels), never returning a set that can teach only one class."""
    report = HistoryReport(rows=len(rows))
    seen: set[tuple[tuple[str, str], ...]] = set()
    examples: list[Example] = []
    for row in rows:
        key = tuple(sorted((str(k), str(v)) for k, v in row.items()))  # the whole row, twice
        if key in seen:
            report.dropped["duplicate row"] += 1
            continue
        seen.add(key)
        ex = _example(row, cols, label_map, max_chars, house_numbers, report)
        if ex is not None:
            examples.append(ex)
    examples = _supersede(examples, report)
    counts = Counter(e.label for e in examples)
    rare = {lab for lab, n in counts.items() if n < min_examples}
    if rare:
        report.dropped[f"label with fewer than {min_examples} examples"] += sum(
            counts[lab] for lab in rare
        )
        shown = ", ".join(sorted(rare)[:10]) + (" ..." if len(rare) > 10 else "")
        report.notes.append(f"rare labels left out ({len(rare)}): {shown}")
        examples = [e for e in examples if e.label not in rare]
    report.labels = Counter(e.label for e in examples)
    report.kept = len(examples)
    if len(report.labels) < 2:
        only = f" (only {next(iter(report.labels))!r})" if report.labels else ""
        raise HistoryError(
            f"the history has {len(report.labels)} usable label(s){only} after cleaning: "
            "a router needs at least two, or it would send everything to one department",
            report,
        )
    return examples, report


def _example(
    row: Mapping[str, str | None],
    cols: Columns,
    label_map: Mapping[str, str] | None,
    max_chars: int,
    house_numbers: bool,
    report: HistoryReport,
) -> Example | None:
    raw_text = row.get(cols.text) or ""
    raw_label = (row.get(cols.label) or "").strip()
    text, fixed = repair_text(raw_text)
    label, fixed_label = repair_text(raw_label)
    for what in {fixed, fixed_label} - {None}:
        report.repaired[str(what)] += 1
    text = _SPACE.sub(" ", text).strip()
    if not text:
        report.dropped["empty text"] += 1
        return None
    if not label:
        report.dropped["empty label"] += 1
        return None
    if label_map is not None:
        if label not in label_map:
            report.dropped["label not in the map"] += 1
            return None
        label = label_map[label]
    if SEP in label:
        label = normalise_label(label)
    if len(text) > max_chars:
        text = text[:max_chars]
        report.repaired[f"text cut to {max_chars} characters"] += 1
    text = redact(text, house_numbers=house_numbers).text
    district = None
    if cols.district:
        district = (row.get(cols.district) or "").strip() or None
    at = None
    if cols.time:
        at = parse_time(row.get(cols.time) or "")
        if at is None:
            report.repaired["time not understood (ignored)"] += 1
    return Example(text, label, district, at)


def fit_to_taxonomy(
    examples: Sequence[Example], known: set[str], report: HistoryReport
) -> list[Example]:
    """A path label deeper than the city's taxonomy (`a/b/c` where the city knows `a/b`) is
    cut to its deepest level the city knows, and counted; labels the city does not know at
    any level are left for the caller's label check to name."""
    out: list[Example] = []
    for e in examples:
        if e.label not in known and SEP in e.label:
            level = next((a for a in ancestors(e.label) if a in known), None)
            if level is not None:
                report.repaired["label path deeper than the city's taxonomy: cut"] += 1
                e = Example(e.text, level, e.district, e.at)
        out.append(e)
    report.labels = Counter(e.label for e in out)
    return out


def _supersede(examples: list[Example], report: HistoryReport) -> list[Example]:
    """A text whose label changed once over time (every older row says A, every newer row
    says B) keeps the newest label: the department was reorganised, not the ticket."""
    by_text: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_text[(e.text, e.district)].append(i)
    drop: set[int] = set()
    changes: Counter[tuple[str, str]] = Counter()
    for idx in by_text.values():
        labels = {examples[i].label for i in idx}
        if len(labels) < 2 or any(examples[i].at is None for i in idx):
            continue
        ordered = sorted(idx, key=lambda i: examples[i].at or datetime.min)
        newest = examples[ordered[-1]].label
        first_new = next(k for k, i in enumerate(ordered) if examples[i].label == newest)
        if all(examples[i].label == newest for i in ordered[first_new:]):
            for i in ordered[:first_new]:
                drop.add(i)
                changes[(examples[i].label, newest)] += 1
    if drop:
        report.dropped["label superseded by a newer one for the same text"] += len(drop)
        for (old, new), n in changes.most_common(5):
            report.notes.append(f"label changed over time: {old!r} -> {new!r} ({n} rows)")
    return [e for i, e in enumerate(examples) if i not in drop]
