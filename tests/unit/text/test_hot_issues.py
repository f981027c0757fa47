"""Hot issues found in a small set of letters written for these tests (not real letters): three
specific problems in varied wording, beside letters about other matters at the same places, the
same matter elsewhere, and the bad input real exports carry."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.hot_issues import HotIssue, Letter, clean_letters
from citybrain.text.hot_issues import find_hot_issues
from citybrain.text.hot_issues_io import read_letters

FIXTURE = Path(__file__).parent / "data" / "hot_letters.csv"
NOW = datetime(2026, 1, 1)
TRUTH = {
    "fumes at 翠湖湾": {"f1", "f2", "f3", "f4", "f5", "f6"},
    "internships at 南山学院": {"f8", "f9", "f10", "f11", "f12"},
    "mixing plant on 东岭路": {"f14", "f15", "f16", "f17"},
}
ARGS = ["--id-col", "编号", "--text-col", "主题", "--text-col", "详情", "--time-col", "时间",
        "--likes-col", "点赞"]  # fmt: skip


def _letters(path: Path = FIXTURE) -> list[Letter]:
    rows, _ = read_letters(path, ["编号", "主题", "详情", "时间", "点赞"])
    letters, _ = clean_letters(rows, "编号", ["主题", "详情"], "时间", "点赞", None, NOW)
    return letters


def _f1(found: set[str], truth: set[str]) -> float:
    hit = len(found & truth)
    return 2 * hit / (len(found) + len(truth)) if hit else 0.0


def _best(issues: list[HotIssue], truth: set[str]) -> tuple[int, float]:
    scores = [(_f1(set(i.ids), truth), i.rank) for i in issues]
    f1, rank = max(scores) if scores else (0.0, 0)
    return rank, f1


def test_each_specific_problem_is_one_issue_near_the_top() -> None:
    issues = find_hot_issues(_letters(), top=10)
    for name, truth in TRUTH.items():
        rank, f1 = _best(issues, truth)
        assert f1 >= 0.7 and rank <= 3, (name, rank, f1, [i.as_dict() for i in issues])


def test_another_matter_at_the_same_place_stays_out() -> None:
    issues = find_hot_issues(_letters())
    fumes = max(issues, key=lambda i: _f1(set(i.ids), TRUTH["fumes at 翠湖湾"]))
    assert "f7" not in fumes.ids  # parking at the same estate
    assert "f18" not in fumes.ids  # fumes at another estate
    assert fumes.title.startswith("B3区翠湖湾小区") and "油烟" in fumes.title
    assert fumes.time_range == (datetime(2021, 5, 3, 21, 10), datetime(2021, 6, 1, 23, 15))


def test_one_senders_copies_are_one_voice_and_never_an_issue() -> None:
    text = "光明小区5栋电梯经常停运，老人上下楼困难，物业不管，请质监部门检查电梯安全。"
    copies = [Letter(f"c{i}", text + (" " * (i % 3)) + ("！" if i % 2 else ""), None, 5)
              for i in range(500)]  # fmt: skip
    issues = find_hot_issues(copies + _letters())
    assert not any(i.ids[0].startswith("c") for i in issues)
    assert all(i.residents >= 2 for i in issues)


def test_letters_from_one_named_sender_are_one_voice() -> None:
    letters = [
        Letter(
            f"u{i}", f"翠湖湾小区楼下烧烤店油烟太大，第{i}次反映，请环保部门处理。", None, 1, "same"
        )
        for i in range(5)
    ]
    assert find_hot_issues(letters) == []
    spread = [Letter(x.id, x.text, None, 1, f"resident{i}") for i, x in enumerate(letters)]
    (issue,) = find_hot_issues(spread)
    assert issue.residents == 5


def test_no_letters_or_one_letter_is_no_issue() -> None:
    assert find_hot_issues([]) == []
    assert find_hot_issues([Letter("1", "路灯不亮", None, 0)]) == []


def test_cli_writes_ranked_issues_and_reports_bad_rows(tmp_path: Path) -> None:
    out = tmp_path / "hot.json"
    result = CliRunner().invoke(app, ["hot-issues", str(FIXTURE), *ARGS, "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    first = doc["issues"][0]
    assert first["rank"] == 1 and first["count"] == len(first["ids"])
    assert set(first) >= {"rank", "hotness", "title", "place", "time_range", "count", "ids"}
    datetime.fromisoformat(first["time_range"][0])
    problems = doc["report"]["problems"]
    assert problems["empty text (dropped)"] == 1
    assert problems["time in the future (kept without time)"] == 1
    assert problems["likes negative or not a number (counted as 0)"] == 2
    assert doc["report"]["unreadable_time_ids"] == ["f24"]
    assert "f24" in result.output


def test_cli_reads_gbk_and_bom_files(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    for path in (gbk, bom):
        out = tmp_path / f"{path.stem}.json"
        result = CliRunner().invoke(app, ["hot-issues", str(path), *ARGS, "--json", str(out)])
        assert result.exit_code == 0, result.output
        assert len(json.loads(out.read_text(encoding="utf-8"))["issues"]) >= 3


def test_cli_names_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    shutil.copy(FIXTURE, path)
    result = CliRunner().invoke(
        app, ["hot-issues", str(path), "--id-col", "id", "--text-col", "详情"]
    )
    assert result.exit_code == 2
    assert "'id'" in result.output


def test_a_one_megabyte_letter_is_read_as_far_as_needed() -> None:
    rows = list(csv.DictReader(io.StringIO(FIXTURE.read_text(encoding="utf-8"))))
    rows[0]["详情"] = rows[0]["详情"] + "油烟" * 500_000
    letters, report = clean_letters(rows, "编号", ["主题", "详情"], "时间", "点赞", None, NOW)
    assert any("characters" in k for k in report.problems)
    _, f1 = _best(find_hot_issues(letters), TRUTH["fumes at 翠湖湾"])
    assert f1 >= 0.7


def test_english_letters_group_by_what_they_say() -> None:
    letters = [
        Letter("e1", "Streetlight out on Elm Street near the school, dark for a week", None, 0),
        Letter(
            "e2", "The streetlight on Elm Street near the school has been out for a week", None, 0
        ),
        Letter("e3", "Pothole on Main Street", None, 0),
        Letter("e4", "Graffiti on the library wall", None, 0),
    ]
    (issue,) = find_hot_issues(letters)
    assert issue.ids == ("e1", "e2")
    assert issue.title.startswith("Streetlight")


def test_cli_says_what_is_wrong_with_an_empty_or_binary_file(tmp_path: Path) -> None:
    for name, content in (("empty.csv", b""), ("binary.csv", bytes(range(256)) * 8)):
        path = tmp_path / name
        path.write_bytes(content)
        result = CliRunner().invoke(app, ["hot-issues", str(path), *ARGS])
        assert result.exit_code == 2, result.output
        assert "no column" in result.output
