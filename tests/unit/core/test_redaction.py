import pytest

from citybrain.core.redaction import redact


@pytest.mark.parametrize(
    ("text", "gone", "label"),
    [
        ("call 13812345678 now", "13812345678", "PHONE"),
        ("call 138 1234 5678 now", "138 1234 5678", "PHONE"),
        ("office 0571-88001234", "0571-88001234", "PHONE"),
        ("ring (555) 123-4567 please", "(555) 123-4567", "PHONE"),
        ("ID 330106199001011234 here", "330106199001011234", "ID"),
        ("ID 33010619900101123X here", "33010619900101123X", "ID"),
        ("my name is Li Wei and", "Li Wei", "NAME"),
        ("My name is Wei, the lamp", "Wei", "NAME"),
        ("Hello, this is Zhang Min calling", "Zhang Min", "NAME"),
        ("我叫王芳，路灯坏了", "王芳", "NAME"),
        ("张先生反映", "张", "NAME"),
        ("车牌浙A12345违停", "浙A12345", "PLATE"),
        ("mail a.b@example.org", "a.b@example.org", "EMAIL"),
    ],
)
def test_personal_data_is_removed(text: str, gone: str, label: str) -> None:
    r = redact(text)
    assert gone not in r.text
    assert f"[{label}]" in r.text
    assert r.counts[label] >= 1


def test_id_number_is_not_mistaken_for_phones() -> None:
    r = redact("身份证330106199001011234")
    assert r.counts == {"ID": 1}


def test_ordinary_text_is_untouched() -> None:
    text = "Flooded road at Xinhua Road and Zhongshan Road since 8am, 3 cars stuck"
    assert redact(text).text == text
    assert redact(text).total == 0


@pytest.mark.parametrize(
    "text",
    [
        "this is really deep water on the road",  # lower-case words are no name
        "This is Heping Road, the underpass is flooded",  # a place, kept for geocoding
        "my name is not important, fix the lamp",
    ],
)
def test_introductions_without_a_name_keep_their_words(text: str) -> None:
    assert redact(text).text == text


def test_house_numbers_only_when_configured() -> None:
    text = "pothole outside No. 88 Xinhua Road, 新华路88号"
    assert redact(text).text == text
    r = redact(text, house_numbers=True)
    assert "88" not in r.text
    assert r.counts["ADDRESS"] == 2
