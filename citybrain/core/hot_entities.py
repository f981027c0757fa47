"""The specific places and organisations a Chinese letter names: "魅力之城小区", "丽发新城",
"经济学院", "58车贷", "香樟路". Hot issues are about one estate, road, school or company, so two
letters may only be grouped at a moderate text similarity when they name the same one; a shared
word like "噪音" or "物业" says nothing about *which* problem.

Rules, not a model: a name is a short run of name characters ending in a place-type suffix.
Administrative codes ("A市", "A5区", "K8县") and province names ("西地省") and the words that usually precede a name
("我们是", "住在", "关于", "该", ...) are cut off the front; what is left must keep at least two
characters before the suffix and not be a common word ("政府", "物业公司", "有限公司"). The
document-frequency cut that removes names which are really generic ("幼儿园", "火车站") is made
per corpus by the caller (`generic_cutoff`), because only the corpus knows what is common."""

from __future__ import annotations

import re

# Longer suffixes first: the alternation takes the first that matches.
SUFFIXES = (
    "小区", "花园", "家园", "公寓", "新城", "广场", "大厦", "中心", "大道", "学校", "中学", "小学",
    "大学", "学院", "幼儿园", "公司", "集团", "医院", "社区", "街道", "市场", "车贷", "工厂",
    "高速", "高铁", "搅拌站", "项目", "苑", "城", "路", "街", "巷", "村", "镇", "乡", "湾", "府",
    "园", "厂", "站", "桥",
)  # fmt: skip
_NAME = r"[\u4e00-\u9fffA-Za-z0-9]"
_ENTITY = re.compile(
    rf"({_NAME}{{1,10}}?)({'|'.join(SUFFIXES)})(?!{_NAME}{{0,2}}(?:{'|'.join(SUFFIXES)}))"
)
_ADMIN = re.compile(r"^.*(?:[A-Z]\d*\s?[市区县省州]|[\u4e00-\u9fff]{2,3}省(?=[\u4e00-\u9fff]))")
# Words that usually precede a name; the last one in the run is where the name starts.
_LEAD_WORDS = (
    "的|是|在|了|我|们|你|他|对|向|从|到|至|住|请|问|望|要|把|被|让|给|为|由|因|但|就|也|都|还|又"
    "|这|那|该|本|此|其|个|位|管|每|整|无|没|近|几|些|已|将|附近|周边|旁边|关于|反映|投诉|导致|造成"
    "|影响|严重|位于|一下|建设|按照|解决|要求|建议|工作人员|权力|创建|实现|提升|随着|如果|而且|目前"
    "|推进|进入|严禁|保证|符合|损害|挂着|年"
)
# Characters that precede names in running text but also sit inside them ("和平小区", "新建路"):
# a cut at one of them is undone when it would leave less than two characters of the name.
_NAMEY = "和|与|及|于|各|所|全|有|老|多|新建"
_LEAD = re.compile(rf"^.*(?:{_LEAD_WORDS}|{_NAMEY})|^[县市区省州]")
_LEAD_STRONG = re.compile(rf"^.*(?:{_LEAD_WORDS})|^[县市区省州]")
COMMON = frozenset({
    "政府", "小区", "物业", "物业管理", "安置", "有限", "有限责任", "自来水", "电力", "人民", "城市", "主城",
    "当地", "国家", "公交", "客运", "汽车", "垃圾", "城中", "新农", "棚改", "评估", "服务", "营销",
    "十字", "交叉", "城际", "居民", "开发", "房地产", "一家", "生活", "公办", "民办", "私立", "公立",
    "培训", "乡镇", "农村", "中心", "学校", "医院", "第一人民", "市场", "文明", "卫生", "园林",
    "国家卫生", "全国文明", "限责任", "责任", "限", "中小", "小城", "城乡", "大街小", "商业", "步行", "工业",
})  # fmt: skip
MAX_SCAN = 400  # names sit in the subject and opening lines; long legal quotations add noise
_PLACE_CODE = re.compile(r"[A-Z]\d{0,2}\s?[市区县]")


def specific_entities(text: str) -> set[str]:
    """The names of specific places and organisations in the opening of `text`."""
    out: set[str] = set()
    for m in _ENTITY.finditer(text[:MAX_SCAN]):
        core, suffix = m.group(1), m.group(2)
        bare = _ADMIN.sub("", core)
        core = _LEAD.sub("", bare)
        if len(core) < 2:
            core = _LEAD_STRONG.sub("", bare)
        if len(core) < 2 or core in COMMON or (core + suffix).endswith("政府"):
            continue
        out.add(core + suffix)
        out |= _parts(core, suffix)
    return out


def _parts(core: str, suffix: str) -> set[str]:
    """The names inside a compound one: "伊景园滨河苑" is also "伊景园" and "滨河苑", so a
    letter naming either part meets it."""
    out = set()
    for inner in SUFFIXES:
        at = core.find(inner, 2)
        if at > 0 and core[:at] not in COMMON:
            out.add(core[: at + len(inner)])
            rest = core[at + len(inner) :]
            if len(rest) >= 2 and rest not in COMMON:
                out.add(rest + suffix)
    return out


def place_codes(text: str) -> list[str]:
    """The anonymised district codes a letter names ("A5区", "K8县"), in order."""
    return [c.replace(" ", "") for c in _PLACE_CODE.findall(text[:MAX_SCAN])]


def generic_cutoff(n_letters: int) -> int:
    """A name in more letters than this is a common word in this corpus, not one place.

    3 % of the letters, but never below 20: a real hot issue in 4,000 letters has 20-80."""
    return max(20, int(0.03 * n_letters))
