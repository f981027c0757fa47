"""Every command the README and docs/ name starts: each `citybrain ...` command answers
`--help`, each `tools/*.py` script answers `--help` in a fresh interpreter (so its imports
resolve), and each `make` target exists. A renamed function or a command dropped from the CLI
fails here, not in front of the reader."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from citybrain.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `citybrain` as the program: at the start of a code span or line, or after a path or `-m`
_CLI = re.compile(r"(?:^|[`$;&(]\s*|bin/|-m )citybrain((?: [a-z][a-z0-9-]*)+)", re.M)
_TOOL = re.compile(r"\btools/[A-Za-z0-9_/]+\.py\b")
_MAKE = re.compile(r"`make ([a-z][a-z0-9-]*)")


def _code(text: str) -> str:
    """The code in a Markdown page: fenced blocks and inline spans, one per line."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(blocks + spans)


def _named(pattern: re.Pattern[str], group: int = 0) -> list[str]:
    found = set()
    for doc in DOCS:
        found |= {m.group(group).strip() for m in pattern.finditer(_code(doc.read_text()))}
    return sorted(found)


def _command_path(words: list[str]) -> list[str]:
    """The leading words that name (sub)commands; what follows is arguments."""
    cmd: click.Command = typer.main.get_command(app)
    path: list[str] = []
    for w in words:
        if not isinstance(cmd, click.Group) or w not in cmd.commands:
            break
        cmd = cmd.commands[w]
        path.append(w)
    return path


@pytest.mark.parametrize("words", _named(_CLI, 1))
def test_each_documented_citybrain_command_starts(words: str) -> None:
    path = _command_path(words.split())
    assert path, f"`citybrain {words}` in the docs names no command"
    res = CliRunner().invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("script", _named(_TOOL))
def test_each_documented_tool_starts(script: str) -> None:
    assert (ROOT / script).is_file(), f"{script} is named in the docs but does not exist"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage" in res.stdout.lower(), res.stdout[-500:]


def test_each_documented_make_target_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))
    missing = [t for t in _named(_MAKE, 1) if t not in targets]
    assert missing == []
