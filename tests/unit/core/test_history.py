"""Cleaning a ticket history: every dropped or repaired row is counted, with its reason."""

from __future__ import annotations

from datetime import datetime

import pytest

from citybrain.core.history import Columns, HistoryError, clean_history, parse_time, repair_text

COLS = Columns(text="text", label="dept", time="at")


def _row(text: str, dept: str, at: str = "2024-01-01", **extra: str) -> dict[str, str]:
    return {"text": text, "dept": dept, "at": at, **extra}


def test_bad_rows_are_dropped_and_counted() -> None:
    rows = [
        _row("路灯不亮", "lights", id="1"),
        _row("路灯不亮", "lights", id="1"),  # the same row exported twice
        _row("路灯坏了", "lights", id="2"),
        _row("   ", "lights", id="3"),
        _row("垃圾满了", "", id="4"),
        _row("垃圾满了", "sanitation", id="5"),
        _row("垃圾桶满", "sanitation", id="6"),
        _row("一次性的问题", "once", id="7"),
        _row("x" * 100_000, "lights", id="8"),
    ]
    examples, report = clean_history(rows, COLS)
    assert report.rows == 9 and report.kept == len(examples) == 5
    assert report.dropped == {
        "duplicate row": 1,
        "empty text": 1,
        "empty label": 1,
        "label with fewer than 2 examples": 1,
    }
    assert report.repaired["text cut to 4000 characters"] == 1
    assert max(len(e.text) for e in examples) == 4000
    assert report.labels == {"lights": 3, "sanitation": 2}
    assert any("once" in n for n in report.notes)


def test_personal_data_is_redacted_before_learning() -> None:
    rows = [_row("我叫王小明，电话13812345678，路灯不亮", "a"), _row("路灯", "a"), _row("树", "b")]
    rows.append(_row("树倒了", "b"))
    examples, _ = clean_history(rows, COLS)
    assert "13812345678" not in examples[0].text and "王小明" not in examples[0].text


def test_one_label_only_is_refused_with_the_report() -> None:
    rows = [_row(f"路灯不亮 {i}", "lights") for i in range(20)] + [_row("孤单", "alone")]
    with pytest.raises(HistoryError, match="1 usable label") as err:
        clean_history(rows, COLS)
    assert err.value.report is not None and err.value.report.kept == 20


def test_label_map_and_unmapped_labels() -> None:
    rows = [_row("a", "Roads"), _row("b", "Roads"), _row("c", "Parks"), _row("d", "Parks")]
    rows.append(_row("e", "Ministry"))
    examples, report = clean_history(rows, COLS, {"Roads": "city_roads", "Parks": "parks"})
    assert {e.label for e in examples} == {"city_roads", "parks"}
    assert report.dropped["label not in the map"] == 1


def test_gbk_bytes_and_mojibake_are_repaired() -> None:
    gbk = "井盖丢失".encode("gbk").decode("utf-8", "surrogateescape")
    assert repair_text(gbk) == ("井盖丢失", "gbk_bytes")
    moji = "井盖丢失了".encode("gbk").decode("latin-1")
    assert repair_text(moji) == ("井盖丢失了", "mojibake")
    assert repair_text("café au lait") == ("café au lait", None)
    rows = [_row(gbk, "roads"), _row("井盖", "roads"), _row("树", "parks"), _row("树倒", "parks")]
    examples, report = clean_history(rows, COLS)
    assert examples[0].text == "井盖丢失" and report.repaired["gbk_bytes"] == 1


def test_a_label_that_changed_meaning_keeps_the_newest() -> None:
    rows = [_row("Bulky Items", "BOS", f"2017-0{m}-01", id=str(m)) for m in range(1, 6)]
    rows += [_row("Bulky Items", "LASAN", f"2018-0{m}-01", id=f"n{m}") for m in range(1, 4)]
    rows += [
        _row("Graffiti", "OCB", "2017-01-01", id="g1"),
        _row("Graffiti", "OCB", "2018-01-01", id="g2"),
    ]
    examples, report = clean_history(rows, COLS)
    assert {e.label for e in examples if e.text == "Bulky Items"} == {"LASAN"}
    assert report.dropped["label superseded by a newer one for the same text"] == 5
    assert any("'BOS' -> 'LASAN'" in n for n in report.notes)


def test_times_in_export_formats() -> None:
    assert parse_time("12/31/2017 11:59:58 PM") == datetime(2017, 12, 31, 23, 59, 58)
    assert parse_time("2024-03-01T08:00:00") == datetime(2024, 3, 1, 8)
    assert parse_time("yesterday") is None
    assert parse_time("2024-03-01T09:00:00+01:00") == datetime(2024, 3, 1, 8)
