"""`citybrain redact`: what an operator runs to see what leaves the building."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from citybrain.cli import app


def test_redact_reads_stdin_and_counts_on_stderr() -> None:
    res = CliRunner().invoke(
        app, ["redact"], input="我叫王芳，电话１３８\u200b1234 5678\nlamp out\n"
    )
    assert res.exit_code == 0, res.output
    assert res.stdout == "我叫[NAME]，电话[PHONE]\nlamp out\n"
    assert "NAME 1" in res.stderr and "PHONE 1" in res.stderr


def test_redact_reads_a_file_in_the_given_encoding(tmp_path: Path) -> None:
    f = tmp_path / "tickets.txt"
    f.write_bytes("车牌浙A12345，新华路88号\n".encode("gb18030"))
    res = CliRunner().invoke(app, ["redact", str(f), "--encoding", "gb18030", "--house-numbers"])
    assert res.exit_code == 0, res.output
    assert res.stdout == "车牌[PLATE]，新华路[ADDRESS]\n"


def test_redact_refuses_undecodable_input_with_a_hint(tmp_path: Path) -> None:
    f = tmp_path / "gbk.txt"
    f.write_bytes("新华路积水".encode("gbk"))
    res = CliRunner().invoke(app, ["redact", str(f)])
    assert res.exit_code == 2
    assert "not utf-8" in res.stderr and "gb18030" in res.stderr
    assert res.stdout == ""


def test_redact_reports_a_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["redact", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2
    assert "cannot read" in res.stderr
