"""Checking the configuration files and exporting the message contracts they are read into.

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.errors import ConfigError


def validate_config(
    path: Annotated[Path | None, typer.Argument(help="Runtime YAML to check")] = None,
) -> None:
    """Check the runtime YAML and every city file; print each error with file and line."""
    from citybrain.city_loading import load_all

    try:
        settings, city = load_all(path)
    except ConfigError as e:
        for p in e.problems:
            typer.echo(p, err=True)
        typer.echo(f"{len(e.problems)} error(s)", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"ok: {city.name}: {len(city.districts)} districts, {len(city.cameras)} cameras, "
        f"{len(city.categories)} categories, {len(city.departments)} departments, "
        f"{len(city.responsibilities)} responsibility lines (city files in {settings.city.dir})"
    )


def schemas(
    out: Annotated[Path, typer.Argument(help="Folder for the JSON Schema files")] = Path(
        "docs/schemas"
    ),
) -> None:
    """Export the JSON Schema of every message contract."""
    from citybrain.core.schemas import SCHEMA_TYPES, json_schema

    out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_TYPES:
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n")
        typer.echo(str(path))
