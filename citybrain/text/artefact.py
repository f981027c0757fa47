"""The router artefact: one folder a deployment points `tickets.router` at.

    manifest.json   format version, scikit-learn version, creation time, label kind and set,
                    training-data fingerprint, options, thresholds, headline metrics,
                    sha256 of model.joblib
    model.joblib    the fitted featurizer + classifier and the neighbour index
    metrics.json    the full cross-validation result (per-label F1, confusion, curve)
    report.json     what the history held and what was dropped or repaired, and why

model.joblib is a pickle: load only artefacts this deployment trained. Its sha256 in the
manifest catches damage and a swapped file, not a forged folder.

A folder from another format version, another scikit-learn minor version (pickles do not
travel between them), with a damaged model file, or naming labels the city does not have
is refused with the reason, before the job consumes anything.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import sklearn
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.history import Example
from citybrain.text.errors import ArtefactError
from citybrain.text.router import LabelKind, Model, Neighbours, Router

FORMAT_VERSION = 2  # 2: hashed n-grams and the domain prior (text/grams.py, text/prior.py)
MANIFEST = "manifest.json"
MODEL = "model.joblib"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = Field(title="Artefact layout version")
    created_at: datetime = Field(title="When the router was trained (UTC)")
    sklearn_version: str = Field(title="scikit-learn that pickled the model")
    kind: Literal["department", "category", "label"] = Field(title="What the labels name")
    labels: tuple[str, ...] = Field(title="Labels the router can predict")
    fingerprint: str = Field(title="sha256 of the training rows (label, district, text)")
    rows: int = Field(title="Training rows")
    options: dict[str, Any] = Field(title="Model options")
    model_sha256: str = Field(title="sha256 of model.joblib")
    auto_threshold: float | None = Field(
        title="Lowest probability with >= target precision under cross-validation"
    )
    target_precision: float = Field(title="Precision the auto-dispatch threshold was set for")
    metrics: dict[str, Any] = Field(default_factory=dict, title="Headline CV metrics")
    sources: tuple[str, ...] = Field((), title="Files the history came from")

    @property
    def router_id(self) -> str:
        return self.fingerprint[:12]


def fingerprint(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.label}\t{e.district or ''}\t{e.text}\n".encode())
    return h.hexdigest()


def label_kind(labels: Sequence[str], city: City | None) -> LabelKind:
    """Departments or categories of the configured city; otherwise plain labels (usable for
    evaluation, refused by the ticket job)."""
    if city is None:
        return "label"
    labs = set(labels)
    if labs <= set(city.department_by_id):
        return "department"
    if labs <= set(city.category_by_id) | {UNCLASSIFIED}:
        return "category"
    return "label"


def save_router(
    out: Path,
    model: Model,
    neighbours: Neighbours | None,
    kind: LabelKind,
    examples: Sequence[Example],
    auto_threshold: float | None,
    target_precision: float,
    metrics: dict[str, Any],
    report: dict[str, Any],
    sources: Sequence[str] = (),
) -> Manifest:
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump({"model": model, "neighbours": neighbours}, out / MODEL, compress=3)
    digest = hashlib.sha256((out / MODEL).read_bytes()).hexdigest()
    headline = {k: v for k, v in metrics.items() if k not in ("f1", "confusion", "curve")}
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        created_at=datetime.now(UTC),
        sklearn_version=sklearn.__version__,
        kind=kind,
        labels=model.labels,
        fingerprint=fingerprint(examples),
        rows=len(examples),
        options=model.opts.as_dict(),
        model_sha256=digest,
        auto_threshold=auto_threshold,
        target_precision=target_precision,
        metrics=headline,
        sources=tuple(sources),
    )
    (out / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    dump = json.dumps
    (out / "metrics.json").write_text(dump(metrics, indent=2, ensure_ascii=False) + "\n")
    (out / "report.json").write_text(dump(report, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(path: Path) -> Manifest:
    where = path / MANIFEST
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ArtefactError(f"{path}: no router artefact here ({MANIFEST} is missing)") from e
    except (OSError, ValueError) as e:
        raise ArtefactError(f"{where}: unreadable: {e}") from e
    if not isinstance(data, dict):
        raise ArtefactError(f"{where}: not a router manifest")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtefactError(
            f"{path}: router artefact format version {version!r}, this citybrain reads "
            f"version {FORMAT_VERSION}: train it again with `citybrain router train`"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise ArtefactError(
            f"{where}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        ) from e


def check_labels(manifest: Manifest, city: City, path: Path) -> None:
    """The router may only name departments (or categories) this city has configured."""
    if manifest.kind == "label":
        raise ArtefactError(
            f"{path}: the router's labels are not this city's departments or categories "
            "(train it with --map labels.yaml mapping them to department ids)"
        )
    known = (
        set(city.department_by_id)
        if manifest.kind == "department"
        else set(city.category_by_id) | {UNCLASSIFIED}
    )
    unknown = sorted(set(manifest.labels) - known)
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ArtefactError(
            f"{path}: the router names {manifest.kind}s the city does not have: {shown}"
        )


def load_router(
    path: Path,
    city: City | None = None,
    min_confidence: float = 0.0,
    auto_threshold: float | None = None,
) -> tuple[Router, Manifest]:
    """Checks version, integrity and (with a city) the label set before unpickling."""
    manifest = read_manifest(path)
    if _minor(manifest.sklearn_version) != _minor(sklearn.__version__):
        raise ArtefactError(
            f"{path}: trained with scikit-learn {manifest.sklearn_version}, this environment "
            f"has {sklearn.__version__}: train it again"
        )
    if city is not None:
        check_labels(manifest, city, path)
    blob = path / MODEL
    try:
        data = blob.read_bytes()
    except OSError as e:
        raise ArtefactError(f"{blob}: unreadable: {e}") from e
    if hashlib.sha256(data).hexdigest() != manifest.model_sha256:
        raise ArtefactError(f"{blob}: does not match its manifest (damaged or replaced)")
    # Unpickle the very bytes that were checked: opening the path again would load whatever
    # the file holds by then (replaced between the check and the load).
    parts = joblib.load(io.BytesIO(data))
    model: Model = parts["model"]
    if tuple(model.labels) != manifest.labels:
        raise ArtefactError(f"{path}: the model's labels differ from the manifest's")
    threshold = auto_threshold if auto_threshold is not None else manifest.auto_threshold
    router = Router(
        model, parts["neighbours"], manifest.kind, manifest.router_id, threshold, min_confidence
    )
    return router, manifest


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])
