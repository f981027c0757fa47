"""`citybrain eval ...`: detections, incidents, summaries and routing against labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citybrain.cli.common import (
    ConfigOpt,
    PriorOpt,
    fail,
    prior_option,
    settings_of,
    setup_logging,
)
from citybrain.errors import CityBrainError
from citybrain.text import DEFAULT_PRIOR

if TYPE_CHECKING:
    from rich.console import Console

    from citybrain.config import Settings
    from citybrain.core.city import City

eval_app = typer.Typer(help="Evaluate against labelled data.", no_args_is_help=True)


@eval_app.command("detections")
def eval_detections(
    images_dir: Annotated[
        Path, typer.Argument(help="Folder of labelled images, or a YOLO dataset's data.yaml")
    ],
    config: ConfigOpt = None,
    labels: Annotated[str, typer.Option(help="yolo | coco")] = "yolo",
    map_: Annotated[
        Path | None, typer.Option("--map", help="Class map YAML (names, map); see docs/ARCHIVE.md")
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="COCO JSON (default IMAGES_DIR/annotations.json)")
    ] = None,
    scene: Annotated[
        bool, typer.Option(help="Evaluate CLIP scene categories (one sub-folder per category)")
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(help="Only the images of this fixed file-name split (train | val; YOLO)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Per-class precision, recall and AP50 of the detector, plus frames/s."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.replay import labels as lab
    from citybrain.replay.eval_detections import evaluate_detections, evaluate_scenes
    from citybrain.replay.render import print_detections, print_scenes
    from citybrain.replay.scene import load_scene_scorer
    from citybrain.vision.scene import BACKGROUND

    setup_logging()
    s = settings_of(config)
    try:
        if scene:
            scorer = load_scene_scorer(s)
            categories = [c.id for c in load_city(s).categories if c.clip_prompts]
            categories.append(BACKGROUND)  # a folder of ordinary street views is a label too
            data = lab.load_scene_folders(images_dir, set(categories))
            result = evaluate_scenes(data, scorer, categories)
        else:
            if labels not in ("yolo", "coco"):
                typer.echo("--labels must be yolo or coco", err=True)
                raise typer.Exit(2)
            is_data_yaml = images_dir.suffix in (".yaml", ".yml")
            if map_ is None and not is_data_yaml:
                typer.echo("--map classes.yaml is required (optional with a data.yaml)", err=True)
                raise typer.Exit(2)
            if split not in (None, "train", "val"):
                typer.echo("--split must be train or val", err=True)
                raise typer.Exit(2)
            from citybrain.vision.detector import Detector

            detector = Detector.load(s.vision)
            classes = [detector.names[i] for i in sorted(detector.names)]
            dataset_names = None
            if is_data_yaml:
                images_dir, dataset_names = lab.load_data_yaml(images_dir)
            cmap = (
                lab.ClassMap.load(map_, set(classes), dataset_names)
                if map_ is not None
                else lab.ClassMap(dataset_names or {}, {}, frozenset(classes))
            )
            items = (
                lab.load_yolo(images_dir, cmap, split)
                if labels == "yolo"
                else lab.load_coco(images_dir, annotations or images_dir / "annotations.json", cmap)
            )
            categories_of: dict[str, list[str]] = {}
            for cat in load_city(s).categories:
                for cls in cat.detector_classes:
                    categories_of.setdefault(cls, []).append(cat.id)
            result = evaluate_detections(
                items, detector.detect, classes, s.vision.batch_size, categories_of
            )
    except CityBrainError as e:
        raise fail(e) from e
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif scene:
        print_scenes(result, Console())
    else:
        print_detections(result, Console())


@eval_app.command("incidents")
def eval_incidents(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (citybrain export-run)")],
    truth: Annotated[Path, typer.Option(help="Simulator ground truth JSON")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Incident precision/recall, duplicates, time to detection, routing accuracy vs the truth."""
    from rich.console import Console

    from citybrain.replay.eval_incidents import evaluate_incidents
    from citybrain.replay.render import print_incident_eval
    from citybrain.replay.runs import load_run

    try:
        data = json.loads(truth.read_text(encoding="utf-8"))
        result = evaluate_incidents(load_run(run_dir), data)
    except (OSError, ValueError, KeyError) as e:
        typer.echo(f"error: {truth}: not a ground-truth file: {e}", err=True)
        raise typer.Exit(1) from e
    except CityBrainError as e:
        raise fail(e) from e
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_incident_eval(result, Console())


LETTER_NOTES = Path("config/eval/summary_letters.yaml")


def _append_line(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


@eval_app.command("summaries")
def eval_summaries(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="Run folder (citybrain export-run) whose model summaries to score"),
    ] = None,
    labelled: Annotated[
        Path | None,
        typer.Option("--set", help="Labelled incident set (JSONL): ask the configured model"),
    ] = None,
    build_set: Annotated[
        Path | None, typer.Option("--build-set", help="Write the synthetic labelled set here")
    ] = None,
    per_language: Annotated[int, typer.Option(help="Incidents per language (--build-set)")] = 30,
    language: Annotated[
        str | None, typer.Option(help="Language of a run's summaries (default llm.language)")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Score only the first N of each language of --set")
    ] = None,
    letters: Annotated[
        Path,
        typer.Option(
            help="Real letters (letters_cn) added to --set at evaluation time with their "
            "annotations (config/eval/summary_letters.yaml); skipped, saying so, when absent"
        ),
    ] = Path("../shared/datasets/letters_cn/letters.csv"),
    routing: Annotated[
        bool, typer.Option(help="With --set: also ask a routing choice among three")
    ] = False,
    samples: Annotated[
        Path | None, typer.Option(help="With --set: write every case's summaries here (JSONL)")
    ] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Summaries against their evidence: facts (category, place, count, time), inventions
    (harm, outcomes, geography, numbers bound to another noun, claims not in the reports),
    personal data, language, length; with --set, per model: invented-fact rate, language
    match, useful, length, latency p50/p95 and tokens/s."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.replay import eval_summaries as ev
    from citybrain.replay.render import print_summary_eval
    from citybrain.replay.runs import load_run

    settings = settings_of(config)
    city = load_city(settings)
    if build_set is not None:
        rows = ev.build_set(city, settings, list(range(20_000, 20_400)), per_language)
        build_set.parent.mkdir(parents=True, exist_ok=True)
        build_set.write_text(
            "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
            encoding="utf-8",
        )
        typer.echo(f"{len(rows)} labelled incidents -> {build_set}")
        return
    try:
        if labelled is not None:
            from citybrain.llm.session import model_client

            cases = ev.load_set(labelled)
            if letters.is_file():  # read at evaluation time, never written into a set file
                cases = ev.merged(cases, ev.build_letters_set(letters, LETTER_NOTES))
            else:
                typer.echo(f"{letters} is absent: real letters skipped", err=True)
            if limit is not None:
                groups: dict[str, list[dict[str, Any]]] = {}
                for c in cases:
                    groups.setdefault(f"{c.get('source')}.{c['language']}", []).append(c)
                cases = [c for part in groups.values() for c in part[:limit]]
            with model_client(settings.llm) as client:
                if client is None:
                    typer.echo("error: llm.enabled is off: nothing to ask", err=True)
                    raise typer.Exit(1)
                if samples is not None:
                    samples.parent.mkdir(parents=True, exist_ok=True)
                    samples.write_text("", encoding="utf-8")
                result = ev.evaluate_set(
                    city, settings, client, cases, routing,
                    lambda c: _append_line(samples, c) if samples is not None else None,
                )  # fmt: skip
        elif run_dir is not None:
            result = ev.evaluate_run(city, load_run(run_dir), language or settings.llm.language)
        else:
            typer.echo("error: give a RUN folder, --set FILE or --build-set FILE", err=True)
            raise typer.Exit(2)
    except (OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except CityBrainError as e:
        raise fail(e) from e
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_summary_eval(result.to_dict(), Console())


@eval_app.command("routing")
def eval_routing(
    file: Annotated[Path, typer.Argument(help="Labelled CSV of tickets")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the ticket text")],
    label_col: Annotated[str, typer.Option("--label-col", help="Column with the true label")],
    label_map: Annotated[
        Path | None, typer.Option("--map", help="YAML: label -> department id")
    ] = None,
    folds: Annotated[
        int | None, typer.Option("--cv", help="Cross-validate a router trained on FILE, K folds")
    ] = None,
    router_dir: Annotated[
        Path | None, typer.Option("--router", help="Evaluate this trained router artefact")
    ] = None,
    district_col: Annotated[
        str | None, typer.Option("--district-col", help="District column (router only)")
    ] = None,
    address_col: Annotated[
        str | None, typer.Option("--address-col", help="Column with the address as typed")
    ] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="Reporter's latitude")] = None,
    lon_col: Annotated[str | None, typer.Option("--lon-col", help="Reporter's longitude")] = None,
    model: Annotated[str, typer.Option(help="With --cv: svm (calibrated) or logreg")] = "svm",
    prior: PriorOpt = DEFAULT_PRIOR,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline",
            help="With --cv: the plain TF-IDF + LinearSVC floor on the same folds, beside the router",
        ),
    ] = True,
    config: ConfigOpt = None,
    llm: Annotated[bool, typer.Option(help="Let the model decide ambiguous tickets")] = True,
    limit: Annotated[int | None, typer.Option(help="Only the first N rows")] = None,
    model_choice: Annotated[
        str | None,
        typer.Option(
            help="With --router and --map: ask the model to choose among the router's best 3 "
            "departments (and triage) on the tickets the router is unsure of (unsure) or on "
            "every ticket (all), against the router's own best on the same tickets",
        ),
    ] = None,
    max_asked: Annotated[
        int | None, typer.Option(help="With --model-choice: ask about N tickets at most, spread")
    ] = None,
    samples: Annotated[
        Path | None,
        typer.Option(help="With --model-choice: each ticket's choices as they come (JSONL)"),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores")] = None,
) -> None:
    """Route every ticket of a labelled CSV as the pipeline would; print accuracy, macro-F1,
    the confusion matrix and how each decision was made. `--cv K` cross-validates a router
    trained on the file itself; `--router DIR` scores a trained router (and, with --map, the
    pipeline's decision order with it). Both report the coverage-precision curve."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.core.history import Columns
    from citybrain.llm.session import model_client
    from citybrain.replay.eval_router import cv_on_file, cv_tables, trained_on_file
    from citybrain.replay.eval_routing import (
        TicketColumns,
        evaluate_routing,
        load_label_map,
        read_rows,
        report_table,
    )
    from citybrain.text.router import RouterOptions

    setup_logging()
    s = settings_of(config)
    if not llm:
        s = s.model_copy(update={"llm": s.llm.model_copy(update={"enabled": False})})
    city = load_city(s)
    cols = Columns(text_col, label_col, district_col)
    console = Console()
    out: dict[str, object] = {}
    try:
        labels = load_label_map(label_map, city) if label_map else None
        if folds is not None:
            if model not in ("svm", "logreg"):
                raise CityBrainError("--model is svm or logreg")
            opts = RouterOptions(model=model, prior=prior_option(prior))  # type: ignore[arg-type]
            cv, report, floor = cv_on_file(file, cols, folds, labels, opts, baseline)
            console.print(*cv_tables(cv, report, f"router, {folds}-fold cross-validation"))
            out = {**cv.as_dict(), "history": report.as_dict()}
            if floor is not None:
                console.print(
                    f"baseline (char 1-3-gram TF-IDF + balanced LinearSVC, same folds): "
                    f"accuracy {floor.accuracy:.3f}, macro-F1 {floor.macro_f1:.3f}; router "
                    f"{cv.scores.accuracy - floor.accuracy:+.3f} accuracy"
                )
                out["baseline"] = {
                    "accuracy": round(floor.accuracy, 4),
                    "macro_f1": round(floor.macro_f1, 4),
                    "f1": {k: round(v, 4) for k, v in floor.f1.items()},
                }
        router = None
        if model_choice is not None:
            if router_dir is None or labels is None:
                raise CityBrainError("--model-choice needs --router and --map")
            out = _model_choice(
                file, text_col, label_col, labels, s, city, router_dir, model_choice,
                limit, max_asked, samples, console,
            )  # fmt: skip
        elif router_dir is not None:
            from citybrain.text.artefact import load_router

            router, manifest = load_router(router_dir)
            res, report, at_thr = trained_on_file(file, cols, router, labels)
            console.print(*cv_tables(res, report, f"router {manifest.router_id}"))
            console.print(f"at the router's own threshold: {at_thr}")
            out["router"] = {**res.as_dict(), "at_router_threshold": at_thr}
        if folds is None and model_choice is None and (router_dir is None or labels is not None):
            if labels is None:
                raise CityBrainError("--map is needed to route as the pipeline does")
            if router is not None and router.kind == "label":
                raise CityBrainError("the router's labels are not this city's departments")
            with model_client(s.llm) as client:
                result = evaluate_routing(
                    read_rows(file, limit), text_col, label_col, labels, s, city, client,
                    router=router, columns=TicketColumns(address_col, lat_col, lon_col),
                )  # fmt: skip
            console.print(*report_table(result, city))
            out = {**result.as_dict(), **out} if out else result.as_dict()
    except CityBrainError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    if json_out:
        json_out.write_text(json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False))


def _model_choice(
    file: Path,
    text_col: str,
    label_col: str,
    labels: dict[str, str],
    s: Settings,
    city: City,
    router_dir: Path,
    scope: str,
    limit: int | None,
    max_asked: int | None,
    samples: Path | None,
    console: Console,
) -> dict[str, Any]:
    """`eval routing --model-choice`: the router loaded as the ticket job loads it (minimum
    confidence and threshold from tickets.*), the model asked whatever llm.routing and
    llm.router_help say."""
    from citybrain.core.history import Columns
    from citybrain.llm.session import model_client
    from citybrain.replay.eval_routing import evaluate_model_choice
    from citybrain.replay.render import print_model_choice
    from citybrain.text.artefact import load_router
    from citybrain.text.history_io import read_history

    rows = read_history(file, Columns(text_col, label_col))[:limit]  # `a+b` columns joined
    t = s.tickets
    router, _ = load_router(router_dir, city, t.router_min_confidence, t.router_auto_threshold)
    help_on = {"routing": True, "router_help": True}
    s = s.model_copy(update={"llm": s.llm.model_copy(update=help_on)})
    if samples is not None:
        samples.parent.mkdir(parents=True, exist_ok=True)
        samples.write_text("", encoding="utf-8")
    with model_client(s.llm) as client:
        if client is None:
            raise CityBrainError("llm.enabled is off (or --no-llm): no model to ask")
        result = evaluate_model_choice(
            rows, text_col, label_col, labels, s, city, client, router,
            scope, max_asked,
            lambda c: _append_line(samples, c) if samples is not None else None,
        ).as_dict()  # fmt: skip
    print_model_choice(result, console)
    return result
