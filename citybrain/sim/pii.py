"""Fake personal data for ticket text: the kind of thing redaction must remove.

Real tickets are full of phone numbers, ID numbers and names; without them in the simulated
stream the redaction stage would have nothing to prove. All of it is generated, none real.
"""

from __future__ import annotations

import numpy as np

_EN_NAMES = (
    "Li Wei",
    "Wang Fang",
    "Zhang Min",
    "Liu Yang",
    "Chen Jing",
    "John Smith",
    "Maria Garcia",
    "David Brown",
    "Sun Lei",
    "Emily Clark",
)
_ZH_NAMES = (
    "王芳",
    "李伟",
    "张敏",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄丽",
    "周杰",
    "吴刚",
    "徐明",
    "孙丽",
)
_ZH_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴")
_AREAS = ("330106", "330102", "330105", "110105", "310104", "440305")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def mobile(rng: np.random.Generator) -> str:
    """Chinese mobile number, e.g. 13812345678."""
    return "1" + "3589"[int(rng.integers(0, 4))] + _digits(rng, 9)


def landline(rng: np.random.Generator) -> str:
    """Chinese landline with area code, e.g. 0571-88001234."""
    return "0571-8" + _digits(rng, 7)


def us_phone(rng: np.random.Generator) -> str:
    """US-style number, e.g. (555) 123-4567."""
    return f"(555) {_digits(rng, 3)}-{_digits(rng, 4)}"


def id_number(rng: np.random.Generator) -> str:
    """18-character resident ID with a valid birth date and ISO 7064 check character."""
    area = _AREAS[int(rng.integers(0, len(_AREAS)))]
    year = int(rng.integers(1950, 2005))
    month = int(rng.integers(1, 13))
    day = int(rng.integers(1, 29))
    body = f"{area}{year:04d}{month:02d}{day:02d}{_digits(rng, 3)}"
    check = _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


def en_name(rng: np.random.Generator) -> str:
    return _EN_NAMES[int(rng.integers(0, len(_EN_NAMES)))]


def zh_name(rng: np.random.Generator) -> str:
    return _ZH_NAMES[int(rng.integers(0, len(_ZH_NAMES)))]


def zh_surname(rng: np.random.Generator) -> str:
    return _ZH_SURNAMES[int(rng.integers(0, len(_ZH_SURNAMES)))]


def contact_en(rng: np.random.Generator) -> str:
    """One English sentence carrying personal data."""
    k = int(rng.integers(0, 6))
    if k == 0:
        return f"My name is {en_name(rng)}, phone {mobile(rng)}."
    if k == 1:
        return f"This is {en_name(rng)}, you can reach me at {us_phone(rng)}."
    if k == 2:
        return f"Call me back on {landline(rng)}."
    if k == 3:
        return f"My name is {en_name(rng)} and my ID number is {id_number(rng)}."
    if k == 4:
        return f"Please call back, my name is {en_name(rng)}, number {us_phone(rng)}."
    return f"Contact: {mobile(rng)}."


def contact_zh(rng: np.random.Generator) -> str:
    """One Chinese sentence carrying personal data."""
    k = int(rng.integers(0, 6))
    if k == 0:
        return f"我叫{zh_name(rng)}，电话{mobile(rng)}。"
    if k == 1:
        return f"{zh_surname(rng)}先生，联系电话{landline(rng)}。"
    if k == 2:
        return f"我是{zh_name(rng)}，身份证号{id_number(rng)}。"
    if k == 3:
        return f"{zh_surname(rng)}女士，手机{mobile(rng)}。"
    if k == 4:
        return f"联系电话：{mobile(rng)}。"
    return f"我叫{zh_name(rng)}，身份证{id_number(rng)}，电话{landline(rng)}。"
