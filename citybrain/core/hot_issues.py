"""Hot issues from what residents write: letters cleaned with an account of every bad field,
groups of letters ranked by a hotness index, and a title made by rule.

Hotness index (documented in docs/QUALITY.md, "Hot issues"), over one group:

    H = 4.0 * ln(1 + residents)         how many distinct residents wrote
      + 1.0 * ln(1 + support)           likes given to their letters (one voice counts once)
      + 1.0 * ln(1 + per_week)          how fast: residents per week of the group's span
      + 0.5 * ln(1 + span_days)         how long it has lasted
      + 2.0 * recency                   exp(-days since the last letter / 60), against the latest
                                        letter in the whole file (not the wall clock), so an old
                                        export ranks as it did when it was current

Residents, not letters: near-identical copies (one sender posting the same text again) are one
voice, so 500 copies of one letter are never a hot issue. Letters without a readable time add
residents and support but no speed, span or recency."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from citybrain.core.history import parse_time as _parse_history_time
from citybrain.core.history import repair_text
from citybrain.core.hot_entities import place_codes
from citybrain.core.redaction import redact

MAX_CHARS = 2000  # a 1 MB letter is read this far: a problem is stated in its first page
RECENCY_DAYS = 60.0
WEIGHTS = {"residents": 4.0, "support": 1.0, "per_week": 1.0, "span": 0.5, "recency": 2.0}
_EXCEL_EPOCH = datetime(1899, 12, 30)
_EXTRA_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
)
_SPACE = re.compile(r"\s+")
_CLAUSE = re.compile(r"[。！？!?；;\n]|\.(?:\s|$)")
# Matters residents write about, in the letters' language; a title names the ones most members use.
MATTERS = (
    "油烟", "噪音", "扰民", "粉尘", "臭气", "异味", "污染", "排污", "污水", "搅拌站", "垃圾", "违建",
    "违章建筑", "施工", "拆迁", "补偿", "安置", "车位", "捆绑销售", "停车", "物业", "收费", "乱收费",
    "房产证", "交房", "质量", "电梯", "漏水", "渗水", "积水", "停水", "停电", "燃气", "天然气", "路灯",
    "修路", "道路", "公交", "地铁", "高铁", "占道", "学位", "入学", "补课", "实习", "欠薪", "工资",
    "拖欠", "诈骗", "退款", "集资", "社保", "医保", "养老金", "补贴", "消防", "安全隐患", "绿化",
    "规划", "学费", "校车", "食品安全",
)  # fmt: skip


@dataclass(frozen=True)
class Letter:
    """One resident's letter as the grouping reads it."""

    id: str
    text: str
    at: datetime | None
    likes: int
    author: str | None = None


@dataclass
class LetterReport:
    """What was wrong with the rows, counted; `unreadable_time_ids` names the rows (first 50)."""

    rows: int = 0
    kept: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    unreadable_time_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "problems": dict(self.problems),
            "unreadable_time_ids": list(self.unreadable_time_ids),
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        out = [f"{self.rows} rows read, {self.kept} letters kept"]
        out += [f"{n} rows: {what}" for what, n in sorted(self.problems.items())]
        if self.unreadable_time_ids:
            out.append("times not read in rows: " + ", ".join(self.unreadable_time_ids[:20]))
        return out + self.notes


def parse_time(value: str) -> datetime | None:
    """Export formats seen in hotline data: ISO 8601, `2019/11/2 8:00:00`, `2019年11月2日`,
    Socrata's US form, and Excel serial days (`43771.33`)."""
    v = value.strip()
    if not v:
        return None
    at = _parse_history_time(v)
    if at is not None:
        return at
    for fmt in _EXTRA_FORMATS:
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    try:
        serial = float(v)
    except ValueError:
        return None
    if 20000 <= serial <= 80000:  # 1954 .. 2119: anything else is not a date
        return _EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))
    return None


def parse_likes(value: str) -> int | None:
    """A non-negative count, or None for what is not one ("-3", "abc", "1e400")."""
    v = value.strip().replace(",", "")
    if not v:
        return 0
    try:
        n = float(v)
    except ValueError:
        return None
    if not math.isfinite(n) or n < 0:
        return None
    return int(n)


def clean_letters(
    rows: Sequence[Mapping[str, str]],
    id_col: str,
    text_cols: Sequence[str],
    time_col: str | None,
    likes_col: str | None,
    author_col: str | None,
    now: datetime,
) -> tuple[list[Letter], LetterReport]:
    """Letters fit to group, and every problem counted. Nothing raises on a bad field: an empty
    text drops the row; a bad time, a time after `now` or bad likes keep the row without it."""
    report = LetterReport(rows=len(rows))
    letters: list[Letter] = []
    seen_ids: Counter[str] = Counter()
    for n, row in enumerate(rows, start=1):
        rid = (row.get(id_col) or "").strip() or f"row{n}"
        seen_ids[rid] += 1
        if seen_ids[rid] > 1:
            report.problems["id repeated (made unique with #n)"] += 1
            rid = f"{rid}#{seen_ids[rid]}"
        parts = []
        for col in text_cols:
            raw, fixed = repair_text(row.get(col) or "")
            if fixed:
                report.problems[f"text encoding repaired ({fixed})"] += 1
            parts.append(_SPACE.sub(" ", raw).strip())
        text = "。".join(p for p in parts if p)
        if not text:
            report.problems["empty text (dropped)"] += 1
            continue
        if len(text) > MAX_CHARS:
            report.problems[f"text over {MAX_CHARS} characters (read that far)"] += 1
            text = text[:MAX_CHARS]
        at = None
        if time_col:
            tv = (row.get(time_col) or "").strip()
            at = parse_time(tv) if tv else None
            if not tv:
                report.problems["no time"] += 1
            elif at is None:
                report.problems["time not readable (kept without time)"] += 1
                if len(report.unreadable_time_ids) < 50:
                    report.unreadable_time_ids.append(rid)
            elif at > now:
                report.problems["time in the future (kept without time)"] += 1
                at = None
        likes = 0
        if likes_col:
            parsed = parse_likes(row.get(likes_col) or "")
            if parsed is None:
                report.problems["likes negative or not a number (counted as 0)"] += 1
            else:
                likes = parsed
        author = ((row.get(author_col) or "").strip() or None) if author_col else None
        letters.append(Letter(rid, text, at, likes, author))
    report.kept = len(letters)
    return letters, report


@dataclass(frozen=True)
class HotIssue:
    rank: int
    hotness: float
    title: str
    place: str
    time_range: tuple[datetime, datetime] | None
    count: int  # letters
    residents: int  # distinct voices
    support: int
    ids: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        tr = (
            [self.time_range[0].isoformat(), self.time_range[1].isoformat()]
            if self.time_range
            else None
        )
        return {
            "rank": self.rank,
            "hotness": round(self.hotness, 2),
            "title": self.title,
            "place": self.place,
            "time_range": tr,
            "count": self.count,
            "residents": self.residents,
            "support": self.support,
            "ids": list(self.ids),
        }


def hotness(
    residents: int, support: int, times: Sequence[datetime], reference: datetime | None
) -> float:
    """The index in the module docstring."""
    h = WEIGHTS["residents"] * math.log1p(residents) + WEIGHTS["support"] * math.log1p(support)
    if times and reference is not None:
        first, last = min(times), max(times)
        span_days = (last - first).total_seconds() / 86400
        per_week = residents / max(1.0, span_days / 7)
        age = max(0.0, (reference - last).total_seconds() / 86400)
        h += WEIGHTS["per_week"] * math.log1p(per_week)
        h += WEIGHTS["span"] * math.log1p(span_days)
        h += WEIGHTS["recency"] * math.exp(-age / RECENCY_DAYS)
    return h


def place_of(texts: Sequence[str], entities: Sequence[set[str]]) -> str:
    """The group's place: its most named specific entity, behind the district code most of its
    letters name; "" when the letters share neither."""
    n = len(texts)
    counts = Counter(e for s in entities for e in s)
    # The most used name; of equally used ones the longest ("翠湖湾小区" over "翠湖湾").
    best = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]), default=None)
    name = best[0] if best and best[1] * 2 >= n else ""
    codes = Counter(c for t in texts for c in dict.fromkeys(place_codes(t)))
    # The most specific code most letters share: a district ("A5区") over its city ("A市").
    shared = [c for c, k in codes.items() if k * 2 >= n]
    code = max(shared, key=lambda c: (c[-1] != "市", codes[c]), default="")
    return f"{code}{name}" if name or code else ""


def matter_of(texts: Sequence[str], medoid: str) -> str:
    """The matters at least a third of the letters name (two at most); else the first clause of
    the most central letter, which is in the letters' own language whatever it is."""
    n = len(texts)
    counts = Counter(m for t in texts for m in MATTERS if m in t)
    chosen = [m for m, k in counts.most_common() if k * 3 >= n]
    chosen = [m for m in chosen if not any(m != o and m in o for o in chosen)][:2]
    if chosen:
        return "、".join(chosen)
    first = _CLAUSE.split(medoid, maxsplit=1)[0].strip(" 。")
    return redact(first[:30]).text


def title_of(place: str, matter: str) -> str:
    return f"{place}：{matter}" if place and matter else place or matter
