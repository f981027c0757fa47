"""The incident: one real-world problem, gathering every observation about it.

One type through the whole path: fusion (core/fusion.py) changes it, the store maps it to and
from its row (store/mappers.py), and `<prefix>.incidents` carries it as JSON
(`to_message` / `from_message`, whose schema is docs/schemas/incident.schema.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter

from citybrain.core.messages import GeoPoint, IncidentStatus, RoutingDecision

SEVERITIES = ("low", "medium", "high", "critical")


def _none_as_empty(value: object) -> object:
    """Messages written before the cell was always set carry null for "no cell"."""
    return "" if value is None else value


@dataclass(frozen=True)
class Incident:
    """Its state as fused from the evidence, with the routing and summary it carries.

    `routing` and `summary` are the latest the incident job knows when it publishes a version
    (the rules' answer and the template); the dispatch job decides the routing that counts and
    the summary writers the text, in their own columns of the row (store/mappers.py)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", title="Incident")

    id: str
    category: str
    district: str | None
    location: GeoPoint | None
    opened_at: datetime
    updated_at: datetime
    status: IncidentStatus = "open"
    resolved_at: datetime | None = None
    evidence_ids: tuple[str, ...] = ()
    camera_count: int = 0
    ticket_count: int = 0
    severity: str = "medium"
    cell: Annotated[
        str,
        BeforeValidator(_none_as_empty),
        Field(title="Geo cell that keys its evidence (key feedback with cell:<cell>)"),
    ] = ""
    resolved_by: Annotated[str | None, Field(title="cameras, dispatcher or timeout")] = None
    camera_events: Annotated[
        tuple[str, ...], Field(title="Rule ids of the camera events open behind it")
    ] = ()
    cameras: Annotated[
        tuple[str, ...], Field(title="Cameras whose evidence it holds: their views reach it")
    ] = ()
    reopened: Annotated[int, Field(ge=0, title="Times it came back after being resolved")] = 0
    routing: RoutingDecision | None = None
    summary: str = ""

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    @property
    def priority(self) -> int:
        """1 (act first) .. 4, from severity: rises as evidence and corroboration raise it."""
        return (
            len(SEVERITIES) - SEVERITIES.index(self.severity) if self.severity in SEVERITIES else 3
        )

    def to_message(self) -> bytes:
        """The `<prefix>.incidents` value. Only a routed incident is published."""
        if self.routing is None:
            raise ValueError(f"incident {self.id} has no routing: route it before publishing")
        return INCIDENT_ADAPTER.dump_json(self)

    @classmethod
    def from_message(cls, value: bytes | str) -> Incident:
        """Parse and validate a `<prefix>.incidents` value (pydantic.ValidationError if bad)."""
        return INCIDENT_ADAPTER.validate_json(value)


INCIDENT_ADAPTER: TypeAdapter[Incident] = TypeAdapter(Incident)
