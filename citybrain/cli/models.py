"""`citybrain models ...`: model files made ready for serving."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of, setup_logging

models_app = typer.Typer(no_args_is_help=True, help="Model files: export for serving.")


@models_app.command("export")
def models_export(
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Repository folder (default: vision.triton.model_repository)"),
    ] = None,
    gpu: Annotated[bool, typer.Option(help="Instance groups on the GPU (KIND_GPU)")] = False,
    instances: Annotated[int, typer.Option(help="Model instances per model")] = 1,
    max_batch: Annotated[int, typer.Option(help="Triton max_batch_size")] = 64,
    max_queue_delay_us: Annotated[int, typer.Option(help="Dynamic batching queue delay")] = 2000,
) -> None:
    """Write the Triton model repository: detector and clip_image, Python backend + TorchScript."""
    from citybrain.vision.export import ServingOptions, export_repository, standard_models

    setup_logging()
    s = settings_of(config)
    target = out or s.vision.triton.model_repository
    opts = ServingOptions(
        max_batch_size=max_batch,
        max_queue_delay_us=max_queue_delay_us,
        kind="gpu" if gpu else "cpu",
        instances=instances,
    )
    try:
        digests = export_repository(target, standard_models(s.vision), opts)
    except (FileNotFoundError, ValueError) as e:
        typer.echo(f"export failed: {e}", err=True)
        raise typer.Exit(1) from e
    for path, digest in digests.items():
        typer.echo(f"{digest[:12]}  {target / path}")
