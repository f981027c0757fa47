"""`citybrain hot-issues`: the specific problems many residents write about, ranked."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from citybrain.errors import CityBrainError


def hot_issues(
    file: Annotated[Path, typer.Argument(help="CSV of letters (UTF-8, UTF-8 with BOM, or GBK)")],
    id_col: Annotated[str, typer.Option("--id-col", help="Column with the letter's id")],
    text_col: Annotated[
        list[str],
        typer.Option("--text-col", help="Column with text; repeat for subject and body"),
    ],
    time_col: Annotated[
        str | None, typer.Option("--time-col", help="Column with the time it was written")
    ] = None,
    likes_col: Annotated[
        str | None, typer.Option("--likes-col", help="Column with likes (support)")
    ] = None,
    user_col: Annotated[
        str | None, typer.Option("--user-col", help="Column naming the sender, if there is one")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="How many hot issues to list")] = 10,
    min_residents: Annotated[
        int, typer.Option("--min-residents", help="Distinct residents an issue needs")
    ] = 2,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the issues as JSON")
    ] = None,
) -> None:
    """Group letters about the same specific problem and rank them by hotness."""
    from rich.console import Console
    from rich.table import Table

    from citybrain.core.hot_issues import clean_letters
    from citybrain.text.hot_issues import GroupingOptions, find_hot_issues
    from citybrain.text.hot_issues_io import read_letters, write_issues

    err = Console(stderr=True)
    cols = [id_col, *text_col, *(c for c in (time_col, likes_col, user_col) if c)]
    try:
        rows, encoding = read_letters(file, cols)
        letters, report = clean_letters(
            rows, id_col, text_col, time_col, likes_col, user_col, datetime.now()
        )
        if encoding != "utf-8":
            report.notes.append(f"file read as {encoding}")
        issues = find_hot_issues(letters, GroupingOptions(min_residents=min_residents), top)
    except CityBrainError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for line in report.lines():
        err.print(line, markup=False, highlight=False)
    table = Table(title=f"Hot issues in {file.name}")
    for name in ("#", "hotness", "title", "letters", "residents", "likes", "from", "to"):
        table.add_column(name, overflow="fold", min_width=24 if name == "title" else None)
    for i in issues:
        first, last = (
            (i.time_range[0].date().isoformat(), i.time_range[1].date().isoformat())
            if i.time_range
            else ("", "")
        )
        table.add_row(str(i.rank), f"{i.hotness:.1f}", i.title, str(i.count), str(i.residents),
                      str(i.support), first, last)  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    if json_out:
        write_issues(json_out, issues, report)
