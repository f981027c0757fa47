"""`citybrain city ...`: a city's own files into citybrain's city files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import fail
from citybrain.errors import CityBrainError

city_app = typer.Typer(help="A city's own files into citybrain's city files.", no_args_is_help=True)


@city_app.command("import")
def city_import(
    spec: Annotated[Path, typer.Argument(help="Import spec (YAML): which file holds what")],
    out: Annotated[Path, typer.Option("--out", help="City folder to write (replaced whole)")],
    strict: Annotated[bool, typer.Option(help="Write nothing when any row is refused")] = False,
) -> None:
    """Import a city: responsibility list and departments (CSV/XLSX), districts and streets
    (GeoJSON or shapefile, any CRS, GCJ-02 included), cameras (CSV/XLSX asset register).

    The result is validated as `citybrain validate-config` does before it replaces --out;
    every row taken, changed or refused is in --out/import-report.txt."""
    from citybrain.cityimport.build import REPORT_FILE, build, write_city
    from citybrain.cityimport.spec import load_spec

    try:
        s = load_spec(spec)
        files, report = build(s, spec.parent)
        for line in report.refused():
            typer.echo(str(line), err=True)
        if strict and report.refused():
            typer.echo(
                f"{len(report.refused())} row(s) refused; --strict: nothing written", err=True
            )
            raise typer.Exit(1)
        write_city(files | {REPORT_FILE: report.text()}, out, s.name)
    except CityBrainError as e:
        raise fail(e) from e
    n = report.counts()
    typer.echo(
        f"{s.name} -> {out}: {n['taken']} taken, {n['changed']} changed, {n['refused']} refused "
        f"(every row: {out / REPORT_FILE})"
    )
