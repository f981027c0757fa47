"""`citybrain redact`: the ticket path's redaction on any text, for checking what leaves.

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer


def redact(
    file: Annotated[
        Path | None, typer.Argument(help="Text file to redact (default: standard input)")
    ] = None,
    house_numbers: Annotated[
        bool, typer.Option(help="Also redact house numbers, as tickets.redact_house_numbers does")
    ] = False,
    encoding: Annotated[str, typer.Option(help="Encoding of the input")] = "utf-8",
) -> None:
    """Print the text as it leaves the building: the ticket path's redaction, line by line.

    What was removed is counted on standard error, so the output stays pipeable."""
    from collections import Counter

    from citybrain.core.redaction import redact as redact_text

    counts: Counter[str] = Counter()
    try:
        stream = (
            file.open(encoding=encoding, newline="")
            if file
            else io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, newline="")
        )
    except (OSError, LookupError) as e:
        typer.echo(f"cannot read {file or 'stdin'}: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        for line in stream:
            r = redact_text(line, house_numbers=house_numbers)
            counts.update(r.counts)
            sys.stdout.write(r.text)
    except UnicodeDecodeError as e:
        typer.echo(f"{file or 'stdin'} is not {encoding}: {e} (try --encoding gb18030)", err=True)
        raise typer.Exit(2) from e
    finally:
        if file:
            stream.close()
        else:
            stream.detach()  # standard input stays open for whoever owns it
    sys.stdout.flush()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
    typer.echo(f"redacted: {summary}", err=True)
