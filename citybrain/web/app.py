"""FastAPI application: open incidents by department (HTML), JSON API, health and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.models import EvidenceRow
from citybrain.store.repository import incident_from_row as store_incident

_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def evidence_json(e: EvidenceRow) -> dict[str, Any]:
    return {
        "observation_id": e.observation_id,
        "source": e.source,
        "source_id": e.source_id,
        "observed_at": _iso(e.observed_at),
        "precision": e.precision,
        "confidence": e.confidence,
        "text": e.text,
        "frame_ref": e.frame_ref,
    }


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.isoformat()


class _StoreCollector(Collector):
    """Prometheus gauges read from the store at scrape time (works across worker processes)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for column in ("category", "district", "department"):
            g = GaugeMetricFamily(
                f"citybrain_open_incidents_by_{column}",
                f"Open incidents by {column}",
                labels=[column],
            )
            for k, n in self.store.counts_by(column).items():
                g.add_metric([k], n)
            yield g
        g = GaugeMetricFamily(
            "citybrain_pipeline_counter", "Pipeline worker counters", labels=["worker", "counter"]
        )
        for worker, counters in self.store.stats().items():
            for k, v in counters.items():
                if isinstance(v, int | float):
                    g.add_metric([worker, k], v)
        yield g


def create_app(city: City, store: Store) -> FastAPI:
    app = FastAPI(title="citybrain", version="0.1.0")
    registry = CollectorRegistry()
    registry.register(_StoreCollector(store))
    dept_names = {d.id: d.name for d in city.departments}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        rows = store.incident_models(status="open")
        by_dept: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_dept.setdefault(r.routing.department, []).append(r.model_dump(mode="json"))
        groups = sorted(by_dept.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return _TEMPLATES.TemplateResponse(
            request,
            "index.html",
            {
                "city": city,
                "groups": [(dept_names.get(d, d), d, items) for d, items in groups],
                "total": len(rows),
                "categories": city.category_by_id,
            },
        )

    @app.get("/api/incidents")
    def incidents(status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json") for i in store.incident_models(status, limit)]

    @app.get("/api/incidents/{incident_id}")
    def incident(incident_id: str) -> dict[str, Any]:
        found = store.incident(incident_id)
        if found is None:
            raise HTTPException(404, f"no incident {incident_id}")
        row, evidence = found
        incident = store_incident(row, tuple(e.observation_id for e in evidence))
        return {
            **incident.model_dump(mode="json"),
            "evidence": [evidence_json(e) for e in evidence],
        }

    @app.get("/api/dispatches")
    def dispatches(department: str | None = None) -> list[dict[str, Any]]:
        return [d.model_dump(mode="json") for d in store.dispatch_models(department)]

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        return {
            "open_by_category": store.counts_by("category"),
            "open_by_district": store.counts_by("district"),
            "open_by_department": store.counts_by("department"),
            "pipelines": {
                k: {**v, "updated_at": _iso(v["updated_at"])} for k, v in store.stats().items()
            },
        }

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        store.counts_by("status", open_only=False)  # touches the database
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
