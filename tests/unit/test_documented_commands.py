"""Every command the README and docs/ name starts: each `citybrain ...` command answers
`--help`, each `tools/*.py` script and `python -m citybrain.<module>` answers `--help` in a
fresh interpreter (so its imports resolve), and each `make` target exists. A renamed function or a command dropped from the CLI
fails here, not in front of the reader."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from citybrain.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `citybrain` as the program: at the start of a code span or line, or after a path or `-m`
_CLI = re.compile(r"(?:^|[`$;&(]\s*|bin/|-m )citybrain((?: [a-z][a-z0-9-]*)+)", re.M)
_TOOL = re.compile(r"\btools/[A-Za-z0-9_/]+\.py\b")
_MAKE = re.compile(r"(?:^|[`$;&]\s*)make ([a-z][a-z0-9.-]*[a-z0-9])", re.M)  # model-1.5b
_MODULE = re.compile(r"python -m (citybrain\.[a-z_.]+[a-z])")


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


def _help(argv: list[str], timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run `argv` (a `--help`) in its own process group; one that does not answer in time is
    doing real work instead, and is killed with everything it started."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"{' '.join(argv[1:])} did not answer --help in {timeout_s:.0f} s")
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def _command_path(words: list[str]) -> list[str]:
    """The leading words that name (sub)commands; what follows is arguments."""
    cmd = typer.main.get_command(app)  # typer's own click: a group is what has commands
    path: list[str] = []
    for w in words:
        commands = getattr(cmd, "commands", {})
        if w not in commands:
            break
        cmd = commands[w]
        path.append(w)
    return path


def _commands() -> list[str]:
    """Each documented command once, by the (sub)commands it names ("" names none)."""
    return sorted({" ".join(_command_path(w.split())) or w for w in _named(_CLI, 1)})


@pytest.mark.parametrize("command", _commands())
def test_each_documented_citybrain_command_starts(command: str) -> None:
    path = _command_path(command.split())
    assert path, f"`citybrain {command}` in the docs names no command"
    res = CliRunner().invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("module", _named(_MODULE, 1))
def test_each_documented_python_module_starts(module: str) -> None:
    res = _help([sys.executable, "-m", module, "--help"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage" in res.stdout.lower(), res.stdout[-500:]


@pytest.mark.parametrize("script", _named(_TOOL))
def test_each_documented_tool_starts(script: str) -> None:
    assert (ROOT / script).is_file(), f"{script} is named in the docs but does not exist"
    res = _help([sys.executable, script, "--help"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage" in res.stdout.lower(), res.stdout[-500:]


def test_each_documented_make_target_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z0-9.-]*):", (ROOT / "Makefile").read_text(), re.M))
    missing = [t for t in _named(_MAKE, 1) if t not in targets]
    assert missing == []
