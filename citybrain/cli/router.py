"""`citybrain router ...`: train a router on a city's ticket history; export corrections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import PriorOpt, prior_option, settings_of, setup_logging
from citybrain.errors import CityBrainError
from citybrain.text import DEFAULT_PRIOR

router_app = typer.Typer(
    help="The ticket router learned from the city's own history.", no_args_is_help=True
)

# The router group's --config help is shorter than the others' (common.ConfigOpt).
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Runtime YAML")]


@router_app.command("train")
def router_train(
    history: Annotated[Path, typer.Argument(help="History CSV: ticket text and its label")],
    out: Annotated[Path, typer.Option("--out", help="Artefact folder to write")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the ticket text")],
    label_col: Annotated[
        str, typer.Option("--label-col", help="Column with the department or category")
    ],
    district_col: Annotated[
        str | None, typer.Option("--district-col", help="Column with the district")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option("--time-col", help="Column with the creation time")
    ] = None,
    label_map: Annotated[
        Path | None, typer.Option("--map", help="YAML: history label -> department id")
    ] = None,
    feedback: Annotated[
        list[Path] | None,
        typer.Option("--feedback", help="Dispatchers' corrections (`router feedback`), repeatable"),
    ] = None,
    folds: Annotated[
        int, typer.Option("--cv", help="Cross-validation folds for metrics and threshold (0: none)")
    ] = 5,
    model: Annotated[str, typer.Option(help="svm (calibrated LinearSVC) or logreg")] = "svm",
    prior: PriorOpt = DEFAULT_PRIOR,
    target: Annotated[
        float, typer.Option(help="Precision the auto-dispatch threshold must keep")
    ] = 0.95,
    config: ConfigOpt = None,
) -> None:
    """Train a router on any labelled history; write a versioned artefact for tickets.router."""
    from citybrain.city_loading import load_city
    from citybrain.core.history import Columns, HistoryError
    from citybrain.replay.eval_routing import load_label_map
    from citybrain.text.router import RouterOptions
    from citybrain.text.router_train import train

    setup_logging()
    if model not in ("svm", "logreg"):
        typer.echo("--model is svm or logreg", err=True)
        raise typer.Exit(2)
    s = settings_of(config)
    city = load_city(s)
    cols = Columns(text_col, label_col, district_col, time_col)
    try:
        labels = load_label_map(label_map, city) if label_map else None
        result = train(
            history, cols, out, city, labels, feedback or [],
            RouterOptions(model=model, prior=prior_option(prior)),  # type: ignore[arg-type]
            folds, target, s.tickets.redact_house_numbers,
        )  # fmt: skip
    except HistoryError as e:
        typer.echo(f"error: {e}", err=True)
        if e.report is not None:
            typer.echo("\n".join(e.report.lines()), err=True)
        raise typer.Exit(2) from e
    except CityBrainError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo("\n".join(result.report.lines()))
    if result.feedback_rows:
        typer.echo(f"{result.feedback_rows} dispatcher correction(s) included")
    m = result.manifest
    typer.echo(f"router {m.router_id}: {len(m.labels)} {m.kind} labels, {m.rows} rows -> {out}")
    if result.cv is not None:
        cv = result.cv
        op = cv.operating
        typer.echo(
            f"{cv.folds}-fold CV: accuracy {cv.scores.accuracy:.3f}, macro-F1 "
            f"{cv.scores.macro_f1:.3f}, top-3 {cv.top3:.3f}; auto-dispatch at >= "
            f"{op.target:.0%} precision: "
            + (
                f"threshold {op.threshold:.3f} covers {op.coverage:.1%} of tickets"
                if op.threshold is not None
                else "no threshold reaches it (everything goes to the model or triage)"
            )
        )


@router_app.command("feedback")
def router_feedback(
    out: Annotated[Path, typer.Option("--out", help="CSV to write (text, department, ...)")],
    config: ConfigOpt = None,
) -> None:
    """Export dispatchers' reassignments as labelled examples for `router train --feedback`."""
    from citybrain.store import Store
    from citybrain.text.feedback import write_feedback_csv

    s = settings_of(config)
    n = write_feedback_csv(Store.open(s.store), out)
    typer.echo(json.dumps({"examples": n, "out": str(out)}))


@router_app.command("history")
def router_history(
    out: Annotated[Path, typer.Argument(help="CSV to write (and OUT.labels.yaml beside it)")],
    seeds: Annotated[int, typer.Option(help="Simulated cities (about 30 tickets each)")] = 100,
    first: Annotated[int, typer.Option(help="First seed (hold out a range for testing)")] = 0,
    config: ConfigOpt = None,
) -> None:
    """Write the synthetic city's ticket history: text (typos, two languages, personal data),
    district, time and the department that handled it, with a label map."""
    from citybrain.city_loading import load_city
    from citybrain.sim.labelled_tickets import write_labelled_csv

    s = settings_of(config)
    csv_path, labels = write_labelled_csv(
        load_city(s), s.simulator, out, range(first, first + seeds)
    )
    typer.echo(f"{csv_path} (labels: {labels})")


@router_app.command("duplicates")
def router_duplicates(
    file: Annotated[Path, typer.Argument(help="CSV of tickets or letters")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text")],
    router_dir: Annotated[Path, typer.Option("--router", help="Trained router artefact")],
    threshold: Annotated[float, typer.Option(help="Cosine at which two texts join")] = 0.2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the groups")] = None,
) -> None:
    """Group near-duplicate texts (the same problem in other words) by the router's vectors."""
    from citybrain.core.history import Columns
    from citybrain.core.redaction import redact
    from citybrain.text.artefact import load_router
    from citybrain.text.duplicates import near_duplicate_groups
    from citybrain.text.history_io import read_history

    try:
        rows = read_history(file, Columns(text_col, text_col))
        router, _ = load_router(router_dir)
    except CityBrainError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    texts = [redact(r.get(text_col, "")).text for r in rows]
    groups = near_duplicate_groups(router, texts, threshold)
    for g in groups:
        typer.echo(f"{len(g)} texts: " + " | ".join(texts[i][:60] for i in g[:5]))
    typer.echo(f"{len(groups)} group(s) of near-duplicates in {len(texts)} texts")
    if json_out:
        json_out.write_text(json.dumps([[texts[i] for i in g] for g in groups], ensure_ascii=False))
