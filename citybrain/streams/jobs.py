"""A stream job defined in one place: its name, the topics it reads, its poll batch and how its
stage is built. Each job's spec sits beside its stage (`SPEC` in pipelines/<job>.py) and is
found through the `citybrain.jobs` entry points (pyproject.toml), so the runtime that runs a
job never imports the jobs package: pipelines depend on citybrain, not the other way round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citybrain.config import Settings
    from citybrain.core.city import City
    from citybrain.store import Store
    from citybrain.streams.stage import Stage
    from citybrain.streams.topics import Topics

JOBS = ("vision", "tickets", "incidents", "dispatch")  # in the order the demo starts them
ENTRY_POINTS = "citybrain.jobs"


@dataclass(frozen=True)
class JobSpec:
    name: str
    inputs: Callable[[Topics], list[str]]
    max_poll_records: Callable[[Settings], int]
    build: Callable[[Settings, City, Store, Topics], Stage]


def job_spec(name: str) -> JobSpec:
    """The spec of job `name` (ValueError naming the jobs there are)."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none: is citybrain installed (pip install -e .)?"
        raise ValueError(f"unknown job {name!r}; jobs: {known}")
    spec = found[name].load()
    if not isinstance(spec, JobSpec) or spec.name != name:
        raise TypeError(f"entry point {found[name].value} is not the JobSpec of {name!r}")
    return spec
