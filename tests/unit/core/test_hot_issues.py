"""Hot issues' pure parts: what a letter names, times and likes as exports write them, the
account of bad rows, the hotness index and the title."""

from __future__ import annotations

from datetime import datetime

from citybrain.core.hot_entities import place_codes, specific_entities
from citybrain.core.hot_issues import (
    MAX_CHARS,
    clean_letters,
    hotness,
    matter_of,
    parse_likes,
    parse_time,
    place_of,
    title_of,
)

NOW = datetime(2026, 1, 1)


def test_specific_names_are_found_and_common_words_are_not() -> None:
    found = specific_entities("我们是B3区翠湖湾小区的业主，楼下新开的烧烤店，请物业公司和政府管管")
    assert "翠湖湾小区" in found
    assert not found & {"物业公司", "政府", "小区"}


def test_a_compound_name_is_also_its_parts() -> None:
    found = specific_entities("C市青松苑临河园捆绑销售车位")
    assert {"青松苑临河园", "青松苑", "临河园"} <= found


def test_district_codes_are_cut_off_names_and_read_on_their_own() -> None:
    text = "D2区东岭路搅拌站，K10 县石门村"
    assert "东岭路" in specific_entities(text)
    assert not any(e.startswith(("D2", "区")) for e in specific_entities(text))
    assert place_codes(text) == ["D2区", "K10县"]


def test_export_time_formats_are_read() -> None:
    want = datetime(2019, 11, 2, 8, 0)
    for v in ("2019/11/2 8:00:00", "2019-11-02 08:00:00", "2019-11-02T08:00:00",
              "2019年11月2日 8:00", "43771.3333333333"):  # fmt: skip
        assert parse_time(v) == want, v
    assert parse_time("2019-11-02T08:00:00+08:00") == datetime(2019, 11, 2, 0, 0)
    assert parse_time("昨天") is None
    assert parse_time("12") is None  # a number, not an Excel date


def test_likes_that_are_not_counts_are_none() -> None:
    assert parse_likes("12") == 12
    assert parse_likes("1,200") == 1200
    assert parse_likes("") == 0
    assert parse_likes("-3") is None
    assert parse_likes("abc") is None
    assert parse_likes("inf") is None


def _row(i: str, text: str, t: str = "2021/5/1 8:00:00", likes: str = "0") -> dict[str, str]:
    return {"id": i, "text": text, "time": t, "likes": likes}


def test_bad_fields_are_counted_and_the_rows_kept_where_they_can_be() -> None:
    rows = [
        _row("1", "翠湖湾小区油烟"),
        _row("2", "   "),
        _row("3", "东岭路噪音", t="2030/1/1 8:00:00"),
        _row("4", "东岭路粉尘", t="昨天"),
        _row("5", "南山学院实习", likes="-4"),
        _row("6", "长" * 1_000_000),
        _row("1", "同一编号的第二封信"),
    ]
    letters, report = clean_letters(rows, "id", ["text"], "time", "likes", None, NOW)
    assert report.rows == 7 and report.kept == 6
    p = report.problems
    assert p["empty text (dropped)"] == 1
    assert p["time in the future (kept without time)"] == 1
    assert p["time not readable (kept without time)"] == 1
    assert p["likes negative or not a number (counted as 0)"] == 1
    assert p[f"text over {MAX_CHARS} characters (read that far)"] == 1
    assert report.unreadable_time_ids == ["4"]
    by_id = {x.id: x for x in letters}
    assert by_id["3"].at is None and by_id["5"].likes == 0
    assert len(by_id["6"].text) == MAX_CHARS
    assert "1#2" in by_id  # a repeated id is kept apart, not merged into the first
    assert any("昨天" not in line for line in report.lines())


def test_gbk_bytes_in_a_field_are_repaired() -> None:
    broken = "翠湖湾小区".encode("gbk").decode("utf-8", "surrogateescape")
    letters, report = clean_letters([_row("1", broken)], "id", ["text"], None, None, None, NOW)
    assert letters[0].text == "翠湖湾小区"
    assert report.problems["text encoding repaired (gbk_bytes)"] == 1


def test_hotness_grows_with_residents_support_speed_and_recency() -> None:
    day = datetime(2021, 5, 1)
    ref = datetime(2021, 6, 1)
    base = hotness(5, 10, [day, day.replace(day=8)], ref)
    assert hotness(10, 10, [day, day.replace(day=8)], ref) > base
    assert hotness(5, 100, [day, day.replace(day=8)], ref) > base
    assert hotness(5, 10, [day.replace(day=25), day.replace(day=31)], ref) > base
    assert hotness(5, 10, [], None) < base


def test_title_names_the_place_and_the_matter_most_letters_share() -> None:
    texts = ["B3区翠湖湾小区油烟扰民", "翠湖湾小区油烟太大", "B3区翠湖湾小区餐馆油烟和噪音"]
    place = place_of(texts, [{"翠湖湾小区", "翠湖湾"}] * 3)
    assert place == "B3区翠湖湾小区"
    assert title_of(place, matter_of(texts, texts[0])) == "B3区翠湖湾小区：油烟、扰民"


def test_without_a_known_matter_the_title_is_the_central_letters_first_clause() -> None:
    texts = ["Streetlight out on Elm Street. It has been dark for a week"] * 2
    assert matter_of(texts, texts[0]) == "Streetlight out on Elm Street"
