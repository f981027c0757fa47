"""What every command group shares: the --config option, logging, settings and error exits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from citybrain.errors import CityBrainError, ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Runtime YAML (default: config/citybrain.yaml, or $CITYBRAIN_CONFIG)"
    ),
]


def setup_logging(verbose: bool = False) -> None:
    """One log format for every command; the chatty libraries only say warnings."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("kafka", "httpx", "ultralytics"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settings_of(config: Path | None):  # type: ignore[no-untyped-def]
    """The runtime settings, or every configuration problem on stderr and exit code 2."""
    from citybrain.config import load_settings

    try:
        return load_settings(config)
    except ConfigError as e:
        typer.echo("\n".join(e.problems), err=True)
        raise typer.Exit(2) from e


def fail(e: CityBrainError) -> typer.Exit:
    """The engineering tools' way out on a known error: the message and exit code 1."""
    typer.echo(f"error: {e}", err=True)
    return typer.Exit(1)


PriorOpt = Annotated[
    str, typer.Option(help="Domain prior folder (models/text/README.md), or 'none': history alone")
]


def prior_option(value: str) -> str | None:
    return None if value.strip().lower() in ("", "none") else value
