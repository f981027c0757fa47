"""The demo's numbers: every job's counters summed over its workers, when the streams are
drained, and the run's summary scored against the simulator's ground truth."""

from __future__ import annotations

import json
import signal
from typing import Any

from citybrain.config import Settings
from citybrain.core.evaluation import IncidentFacts, score_against_truth, score_camera_only
from citybrain.store import Store
from citybrain.store.summary_queue import summary_counts
from citybrain.streams.jobs import JOBS

# Jobs exit 0 on SIGTERM; uvicorn shuts down gracefully and then re-raises the signal.
CLEAN_EXIT = (0, -signal.SIGTERM)


def totals(stats: dict[str, dict[str, Any]], job: str) -> dict[str, int]:
    """Sum the counters of every worker of one job (workers are named job@host:pid)."""
    out: dict[str, int] = {}
    for worker, counters in stats.items():
        if worker.split("@", 1)[0] == job:
            for k, v in counters.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    out[k] = out.get(k, 0) + v
    return out


def progress(store: Store) -> dict[str, dict[str, int]]:
    """Every job's counters, summed over its workers, as the store has them now."""
    stats = store.stats()
    return {job: totals(stats, job) for job in JOBS}


def drained(produced: dict[str, int], p: dict[str, dict[str, int]]) -> bool:
    """Whether every stage has consumed all that the stage before it produced."""
    frames, tickets = produced.get("frames", 0), produced.get("tickets", 0)
    observations = p["vision"].get("out.observations", 0) + p["tickets"].get("out.observations", 0)
    return (
        p["vision"].get("consumed", 0) >= frames
        and p["vision"].get("waiting", 0) == 0  # frames held for a batch are not done yet
        and p["tickets"].get("consumed", 0) >= tickets
        and p["incidents"].get("consumed", 0) >= observations
        and p["dispatch"].get("consumed", 0) >= p["incidents"].get("out.incidents", 0)
    )


def run_summary(
    store: Store,
    settings: Settings,
    produced: dict[str, int],
    sim_error: BaseException | None,
    elapsed: float,
    exits: dict[str, int | None],
) -> dict[str, Any]:
    """What the run did, as the demo prints it and writes it to summary.json."""
    p = progress(store)
    dispatched: dict[str, int] = {}
    for d in store.dispatches():
        dispatched[d.department] = dispatched.get(d.department, 0) + 1
    v, tk = p["vision"], p["tickets"]
    frames_ok = v.get("frames", 0) + v.get("dlq", 0) == produced.get("frames", -1)
    tickets_ok = tk.get("tickets", 0) + tk.get("dlq", 0) == produced.get("tickets", -1)
    return {
        "ok": sim_error is None and all(rc in CLEAN_EXIT for rc in exits.values()),
        "exit_codes": exits,
        "elapsed_s": round(elapsed, 1),
        "produced": produced,
        "pipelines": p,
        "frames_accounted": frames_ok,
        "tickets_accounted": tickets_ok,
        "incidents": {
            "total": len(store.incidents(limit=100_000)),
            "open": sum(store.counts_by("department").values()),
        },
        "dispatched": dispatched,
        "frames_per_s": round(v.get("frames", 0) / max(elapsed, 1e-6), 2),
        "tickets_per_s": round(tk.get("tickets", 0) / max(elapsed, 1e-6), 2),
        "ground_truth": str(settings.simulator.ground_truth),
        "truth_score": score(store, settings),
        "camera_only": score_camera_only_events(store, settings),
        "decided_by": {
            k.split(".", 1)[1]: n for k, n in p["dispatch"].items() if k.startswith("decided_by.")
        },
        "summary": summary_counts(store),
        "model_calls": {
            k.split(".", 1)[1]: n for k, n in p["dispatch"].items() if k.startswith("model_calls.")
        },
        "store": settings.store.url,
    }


def score(store: Store, settings: Settings) -> dict[str, Any] | None:
    """How the run compares with the simulator's ground truth (None if it wrote none)."""
    path = settings.simulator.ground_truth
    if not path.exists():
        return None
    truth = json.loads(path.read_text())
    evidence = store.evidence()
    incident_of = {e.source_id: e.incident_id for e in evidence if e.source == "ticket"}
    cameras = [(e.source_id, e.category, e.observed_at) for e in evidence if e.source == "camera"]
    facts = {
        i.id: IncidentFacts(i.category, i.district, i.department)
        for i in store.incidents(limit=1_000_000)
    }
    return score_against_truth(truth, incident_of, facts, cameras).as_dict()


def score_camera_only_events(store: Store, settings: Settings) -> dict[str, Any] | None:
    """Events only a camera saw: did each become an incident routed right (recall), and is
    each camera-only incident a real event (precision)?"""
    path = settings.simulator.ground_truth
    if not path.exists():
        return None
    evidence = store.evidence()
    return score_camera_only(
        json.loads(path.read_text()),
        {
            i.id: IncidentFacts(i.category, i.district, i.department)
            for i in store.incidents(limit=1_000_000)
        },
        [(e.incident_id, e.source_id, e.observed_at) for e in evidence if e.source == "camera"],
        {e.source_id: e.incident_id for e in evidence if e.source == "ticket"},
    ).as_dict()
