"""`citybrain router train`: history CSV -> cleaned examples -> cross-validation (which sets
the auto-dispatch threshold and the metrics) -> the final router on every row -> artefact."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from citybrain.core.city import City
from citybrain.core.history import (
    Columns,
    Example,
    HistoryReport,
    clean_history,
    fit_to_taxonomy,
)
from citybrain.text.artefact import Manifest, label_kind, save_router
from citybrain.text.errors import RouterError
from citybrain.text.history_io import read_history
from citybrain.text.router import Model, Neighbours, RouterOptions
from citybrain.text.router_cv import TARGET_PRECISION, CVResult, cross_validate

log = logging.getLogger(__name__)

FEEDBACK_COLUMNS = Columns(text="text", label="department", district="district", time="at")


@dataclass(frozen=True)
class TrainResult:
    manifest: Manifest
    report: HistoryReport
    cv: CVResult | None
    feedback_rows: int = 0


def load_examples(
    history: Path,
    cols: Columns,
    label_map: Mapping[str, str] | None,
    feedback: Sequence[Path] = (),
    min_examples: int = 2,
    house_numbers: bool = False,
) -> tuple[list[Example], HistoryReport, int]:
    """History rows (mapped) and dispatchers' corrections (department ids already) together;
    corrections come last, as the newest word on their text."""
    rows: list[dict[str, str]] = read_history(history, cols)
    fb_rows: list[dict[str, str]] = []
    for path in feedback:
        fb_rows += read_history(path, Columns(text="text", label="department"))
    if fb_rows and label_map is not None:
        # corrections name department ids; let them through the history's map unchanged
        label_map = {**label_map, **{r["department"]: r["department"] for r in fb_rows}}
    unified = rows + [
        {cols.text: r.get("text", ""), cols.label: r.get("department", ""),
         **({cols.district: r.get("district", "")} if cols.district else {}),
         **({cols.time: r.get("at", "")} if cols.time else {})}
        for r in fb_rows
    ]  # fmt: skip
    examples, report = clean_history(
        unified, cols, label_map, min_examples=min_examples, house_numbers=house_numbers
    )
    return examples, report, len(fb_rows)


def train(
    history: Path,
    cols: Columns,
    out: Path,
    city: City | None,
    label_map: Mapping[str, str] | None = None,
    feedback: Sequence[Path] = (),
    opts: RouterOptions | None = None,
    folds: int = 5,
    target: float = TARGET_PRECISION,
    house_numbers: bool = False,
) -> TrainResult:
    opts = opts or RouterOptions()
    examples, report, n_feedback = load_examples(
        history, cols, label_map, feedback, max(2, folds), house_numbers
    )
    if city is not None:
        known = set(city.department_by_id) | set(city.category_by_id)
        examples = fit_to_taxonomy(examples, known, report)
    kind = label_kind(sorted(report.labels), city)
    if kind == "label" and city is not None:
        report.notes.append(
            "the labels are not this city's department or category ids: the ticket job will "
            "refuse this router (give --map labels.yaml to map them)"
        )
    if city is not None and cols.district:
        unknown = {e.district for e in examples if e.district} - set(city.district_by_id)
        if unknown and kind != "label":
            report.notes.append(
                f"{len(unknown)} district value(s) are not this city's district ids (e.g. "
                f"{sorted(unknown)[0]!r}): the ticket job passes district ids, so the router "
                "will not recognise them there"
            )
    cv: CVResult | None = None
    if folds >= 2:
        log.info("cross-validating on %d rows, %d folds", len(examples), folds)
        cv = cross_validate(examples, opts, folds, target)
        predicted = {p for (_, p) in cv.scores.confusion}
        if len(predicted) < 2:
            raise RouterError(
                f"held out, the router predicts one label only ({predicted.pop()!r}): "
                "the history does not separate its labels; no router written"
            )
    log.info("fitting the router on %d rows", len(examples))
    model = Model(opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(examples)
    sample = examples[:: max(1, len(examples) // 2000)]
    seen = set(model.proba([e.text for e in sample], [e.district for e in sample]).argmax(axis=1))
    if len(seen) < 2:
        raise RouterError("the fitted router predicts one label only: no router written")
    neighbours = Neighbours.build(model, examples)
    metrics = cv.as_dict() if cv else {}
    manifest = save_router(
        out,
        model,
        neighbours,
        kind,
        examples,
        cv.operating.threshold if cv else None,
        target,
        metrics,
        {**report.as_dict(), "feedback_rows": n_feedback},
        [str(history), *map(str, feedback)],
    )
    return TrainResult(manifest, report, cv, n_feedback)
