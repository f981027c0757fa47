"""`citybrain eval routing --cv K` and `--router DIR`: the learned router on a labelled CSV,
held out by cross-validation or as trained, with the coverage-precision curve."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from citybrain.core.coverage import coverage_curve, curve_summary, operating_point
from citybrain.core.history import Columns, Example, HistoryReport, clean_history
from citybrain.core.label_paths import level_accuracy
from citybrain.core.metrics import Scores, score
from citybrain.replay.eval_routing import confusion_table
from citybrain.text.history_io import read_history
from citybrain.text.router import Router, RouterOptions
from citybrain.text.router_cv import TARGET_PRECISION, CVResult, baseline_cv, cross_validate


def history_examples(
    path: Path, cols: Columns, label_map: Mapping[str, str] | None, min_examples: int
) -> tuple[list[Example], HistoryReport]:
    return clean_history(read_history(path, cols), cols, label_map, min_examples=min_examples)


def cv_on_file(
    path: Path,
    cols: Columns,
    folds: int,
    label_map: Mapping[str, str] | None = None,
    opts: RouterOptions | None = None,
    baseline: bool = False,
) -> tuple[CVResult, HistoryReport, Scores | None]:
    """The router's cross-validation, and the plain baseline's on the same folds if asked."""
    examples, report = history_examples(path, cols, label_map, folds)
    opts = opts or RouterOptions()
    floor = baseline_cv(examples, folds, opts.seed) if baseline else None
    return cross_validate(examples, opts, folds), report, floor


def trained_on_file(
    path: Path,
    cols: Columns,
    router: Router,
    label_map: Mapping[str, str] | None = None,
    target: float = TARGET_PRECISION,
) -> tuple[CVResult, HistoryReport, dict[str, Any]]:
    """The trained router on every row; also how its own threshold fares here."""
    examples, report = history_examples(path, cols, label_map, 1)
    pred, conf = router.predict([e.text for e in examples], [e.district for e in examples])
    truth = [e.label for e in examples]
    correct = [t == p for t, p in zip(truth, pred, strict=True)]
    curve = coverage_curve(conf.tolist(), correct)
    thr = router.auto_threshold
    at_thr: dict[str, Any] = {"threshold": thr}
    if thr is not None:
        above = np.asarray(conf) >= thr
        n = int(above.sum())
        at_thr["coverage"] = round(n / len(examples), 4)
        at_thr["precision"] = round(float(np.asarray(correct)[above].mean()), 4) if n else None
    result = CVResult(
        0, score(truth, pred), curve, operating_point(curve, target), 0.0, 0.0,
        level_accuracy(truth, pred),
    )  # fmt: skip
    return result, report, at_thr


def cv_tables(result: CVResult, report: HistoryReport, title: str) -> list[Any]:
    from rich.table import Table

    s, op = result.scores, result.operating
    head = Table(title=f"{title}: {s.n} tickets, {len(s.labels)} labels")
    head.add_column("measure")
    head.add_column("value", justify="right")
    head.add_row("accuracy", f"{s.accuracy:.3f}")
    head.add_row("macro-F1", f"{s.macro_f1:.3f}")
    if result.top3:
        head.add_row("true label in top 3", f"{result.top3:.3f}")
    if len(result.levels) > 1:
        for level, acc in sorted(result.levels.items()):
            head.add_row(f"accuracy at level {level}", f"{acc:.3f}")
    if op.threshold is None:
        head.add_row(f"auto-dispatch at >= {op.target:.0%} precision", "no threshold reaches it")
    else:
        head.add_row(
            f"auto-dispatch threshold (>= {op.target:.0%} precision)", f"{op.threshold:.3f}"
        )
        head.add_row("  tickets covered", f"{op.coverage:.1%}")
        head.add_row("  precision there", f"{op.precision:.3f}")
    for line in report.lines():
        head.add_row(line, "")
    curve = Table(title="coverage-precision curve (dispatch everything at or above)")
    for col in ("threshold", "coverage", "precision"):
        curve.add_column(col, justify="right")
    for p in curve_summary(result.curve, 10):
        curve.add_row(f"{p.threshold:.3f}", f"{p.coverage:.1%}", f"{p.precision:.3f}")
    per = Table(title="per-label F1 (worst first)")
    per.add_column("label")
    per.add_column("F1", justify="right")
    per.add_column("tickets", justify="right")
    support = {lab: sum(n for (t, _), n in s.confusion.items() if t == lab) for lab in s.labels}
    for lab, f in sorted(s.f1.items(), key=lambda kv: kv[1])[:25]:
        per.add_row(lab, f"{f:.3f}", str(support[lab]))
    out: list[Any] = [head, curve, per]
    if len(s.labels) <= 15:
        out.append(confusion_table(s))
    return out
