"""The text patterns of redaction (all but digit runs), each a function view → spans.

They run on the normalised view (see ``redaction.py``): full-width forms are already ASCII,
zero-width and bidi characters already gone. Each pattern is written to be linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰"
    "焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁"
)
# Characters that end a place, not a given name: "我是张江路的居民" is a resident of a road.
_PLACE_CHARS = "路街道巷弄里桥区县市镇乡村屯庄坊苑园府城湾港站场厂楼栋号门口河湖山寺塔院校馆"
# Characters a given name rarely ends on, but that often follow one: "我是王芳反映…".
_AFTER_NAME = "反投的在住家这来想要说今昨刚居业市电话手号联，,。.、 了和与跟也就是被把请向"
# Words that begin with a surname character and are no name.
_NOT_NAMES = (
    "周边",
    "周围",
    "周末",
    "马路",
    "高速",
    "高架",
    "高楼",
    "黄色",
    "黄金",
    "林荫",
    "何时",
    "许多",
    "曾经",
    "于是",
    "余下",
    "任何",
    "常住",
    "温馨",
    "安全",
    "方便",
    "文明",
    "严重",
    "江边",
    "路过",
    "路人",
    "华侨",
    "万一",
    "金融",
    "石头",
    "白天",
    "齐全",
    "成都",
    "关于",
    "单位",
    "宁波",
    "苏州",
    "武汉",
    "南京",
    "附近",
)
_PLACE_WORDS = (
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Bridge|Park|Square|Underpass|Market|Station|Way"
    r"|Drive|Dr|Boulevard|Blvd|Court|Place|Plaza|Mall|Hospital|School|Center|Centre)"
)
_CAP_WORD = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"


@dataclass(frozen=True)
class Span:
    """A stretch [start, end) of the view to replace with ``[label]``."""

    start: int
    end: int
    label: str


Rule = Callable[[str], list[Span]]


def _regex_rule(label: str, pattern: re.Pattern[str], group: int = 0) -> Rule:
    def rule(view: str) -> list[Span]:
        return [Span(m.start(group), m.end(group), label) for m in pattern.finditer(view)]

    return rule


# Starts only where a run of address characters starts, and never backtracks into it.
_EMAIL = re.compile(r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9_.+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# The handle after the keyword; one without digit, "_" or "-" counts only after a colon
# ("add me on WeChat please" names no handle).
_HANDLE = re.compile(
    r"(?i)(?<![a-z])(?P<kind>微信号?|weixin|wechat(?: ?id)?|wx|vx|v信|qq号?|扣扣)"
    r" ?(?:号|id)? ?(?P<colon>[:：] ?)?(?P<id>[a-z0-9][a-z0-9_-]{4,19})(?![a-z0-9_-])"
)


def _handles(view: str) -> list[Span]:
    out = []
    for m in _HANDLE.finditer(view):
        handle = m["id"]
        if not (m["colon"] or re.search(r"[\d_-]", handle)):
            continue
        qq = m["kind"].lower().startswith(("qq", "扣"))
        out.append(Span(m.start("id"), m.end("id"), "QQ" if qq else "WECHAT"))
    return out


# 浙A12345, 浙 A·12345, 浙a12345 and the six-character new-energy plates; the five or six
# characters after the letter hold at least three digits, so "新 Street" is no plate.
_PLATE = re.compile(
    rf"[{_PROVINCES}] ?[A-Za-z] ?[·•・.-]? ?(?=(?:[A-Za-z]*\d){{3}})[A-Za-z0-9]{{5,6}}(?![A-Za-z0-9])"
)
_BRACKET_PHONE = re.compile(r"\(0\d{2,3}\) ?-?\d{3,4}[ -]?\d{4}(?!\d)")
_US_PHONE = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)")


_EN_NAMES = [
    # Only the introduction is case-blind; a name must be capitalised, and "this is Heping
    # Road" names a place, not a person.
    re.compile(rf"\b[Mm]y name is (?P<n>{_CAP_WORD}(?: {_CAP_WORD})?)"),
    re.compile(rf"\b[Tt]his is (?!{_CAP_WORD} {_PLACE_WORDS}\b)(?P<n>{_CAP_WORD} {_CAP_WORD})"),
    # Titles: "Mr. Smith", "Mrs Li Na".
    re.compile(
        rf"\b(?:Mr|Mrs|Ms|Miss|Mx)(?:\. ?| )(?!{_CAP_WORD} {_PLACE_WORDS}\b)"
        rf"(?P<n>{_CAP_WORD}(?: {_CAP_WORD})?)"
    ),
    # A form field: "Name: Li Wei", "name: john smith", "Contact person: Emily Clark".
    re.compile(
        rf"(?i:\b(?:name|contact(?: person)?) ?[:：] ?)(?P<n>{_CAP_WORD}(?: {_CAP_WORD}){{0,2}})"
    ),
    re.compile(r"(?i:\b(?:name|contact(?: person)?) ?[:：] ?)(?P<n>[a-z]+(?: [a-z]+)?)\b"),
]
_EN_NOT_NAMES = re.compile(r"(?i)(?:not|none|n/?a|unknown|anonymous|withheld|given)\b")


def _en_names(view: str) -> list[Span]:
    return [
        Span(m.start("n"), m.end("n"), "NAME")
        for p in _EN_NAMES
        for m in p.finditer(view)
        if not _EN_NOT_NAMES.match(view, m.start("n"))
    ]


_ZH_INTRO = re.compile(r"(?:我叫|我是|本人|联系人|姓名|报告人|反映人)(?P<colon>[:： ]*)")
_ZH_TITLE = re.compile(rf"[{_SURNAMES}](?=先生|女士|小姐|师傅|阿姨|大爷|大妈)")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _zh_name_at(view: str, at: int, field: bool) -> int:
    """Length of the Chinese name starting at ``at`` (0: none). After a form field ("姓名：")
    any two or three characters are a name; after "我是" only a surname starts one."""
    if not field and (at >= len(view) or view[at] not in _SURNAMES):
        return 0
    for n in (4, 3, 2) if field else (3, 2):
        name = view[at : at + n]
        if len(name) < n or not all(_CJK.match(c) for c in name):
            continue
        after = view[at + n : at + n + 1]
        if any(c in _PLACE_CHARS for c in name[1:]) or (after and after in _PLACE_CHARS):
            continue
        if name[:2] in _NOT_NAMES:
            return 0
        if any(c in _AFTER_NAME for c in name[2:]):
            continue
        return n
    return 0


def zh_names(view: str) -> list[Span]:
    """Chinese names after an introduction or before a title (张先生 → [NAME]先生)."""
    out = []
    for m in _ZH_INTRO.finditer(view):
        field = bool(m["colon"].strip(" ")) or m[0].startswith(
            ("姓名", "联系人", "报告人", "反映人")
        )
        n = _zh_name_at(view, m.end(), field)
        if n:
            out.append(Span(m.end(), m.end() + n, "NAME"))
    out.extend(Span(m.start(), m.end(), "NAME") for m in _ZH_TITLE.finditer(view))
    return out


_HOUSE_EN = re.compile(r"(?i)\bNo\.\s*\d+[A-Za-z]?(?=\s+[A-Z])")
_HOUSE_ZH = re.compile(r"(?<=[路街道])\d+号")


def HOUSE_NUMBERS(view: str) -> list[Span]:
    return [
        Span(m.start(), m.end(), "ADDRESS")
        for p in (_HOUSE_EN, _HOUSE_ZH)
        for m in p.finditer(view)
    ]


# In order of authority: these before the digit runs, AFTER_RUNS after them (a US-style
# 3-3-4 pattern would otherwise cut into a spaced ID number), Chinese names last.
BEFORE_RUNS: list[Rule] = [
    _regex_rule("EMAIL", _EMAIL),
    _handles,
    _regex_rule("PLATE", _PLATE),
    _regex_rule("PHONE", _BRACKET_PHONE),
]
AFTER_RUNS: list[Rule] = [_regex_rule("PHONE", _US_PHONE), _en_names, zh_names]
