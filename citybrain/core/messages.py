"""The contracts between stages: every message on a topic is one of these types.

Frames are the exception to JSON values: a frame's Kafka value is the JPEG itself and its
metadata travels in headers (FrameMeta), so the bytes are never re-encoded on the way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Source = Literal["camera", "ticket"]
Precision = Literal["point", "street", "district", "unlocated"]
IncidentStatus = Literal["open", "updated", "resolved", "reopened"]
RuleState = Literal["opened", "continuing", "cleared"]
DecidedBy = Literal["rule", "router", "model", "fallback", "dispatcher"]

FRAME_HEADERS = ("camera_id", "ts_ms", "seq", "width", "height")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameMeta(_Message):
    """Kafka headers of a frame record (value = JPEG bytes, key = camera id)."""

    camera_id: str = Field(min_length=1, max_length=64)
    ts_ms: int = Field(ge=0, title="Capture time, milliseconds since the epoch (UTC)")
    seq: int = Field(ge=0, title="Per-camera sequence number")
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)

    def to_headers(self) -> list[tuple[str, bytes]]:
        return [(k, str(getattr(self, k)).encode()) for k in FRAME_HEADERS]


class GeoPoint(_Message):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class Ticket(_Message):
    """A citizen report as it arrives from the hotline, an app or a web form."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # channels add their own fields

    ticket_id: str = Field(min_length=1, max_length=128)
    channel: Literal["hotline", "app", "web", "open311"] = "hotline"
    received_at: AwareDatetime
    text: str = Field(min_length=1, max_length=20_000)
    language: Literal["zh", "en"] | None = None
    location: GeoPoint | None = Field(None, title="Point the reporter's app attached, if any")
    address: str | None = Field(None, max_length=500, title="Address as typed by the reporter")


class Detection(_Message):
    """One detector box, normalised to the frame (0..1), with the zone it counted for."""

    cls: str
    confidence: float = Field(ge=0, le=1)
    box: tuple[float, float, float, float] = Field(title="x1, y1, x2, y2 normalised")
    zone: str | None = None
    track_id: int | None = Field(None, title="Multi-object tracker id within its camera")


class LabelScore(_Message):
    label: str = Field(title="Department or category id the router can name")
    p: float = Field(ge=0, le=1, title="Router probability")


class SimilarTicket(_Message):
    """A past ticket near this one in the router's vectors: evidence a dispatcher can read."""

    text: str = Field(title="Redacted text of the past ticket")
    label: str = Field(title="Where the city routed it")
    similarity: float = Field(ge=-1, le=1, title="Cosine similarity of the two tickets")


class RouterAdvice(_Message):
    """What the router trained on the city's history makes of a ticket, and why."""

    router: str = Field(title="Artefact id (training-data fingerprint, shortened)")
    kind: Literal["department", "category"] = Field(title="What the router's labels name")
    top: tuple[LabelScore, ...] = Field(title="Most probable labels, best first")
    similar: tuple[SimilarTicket, ...] = Field((), title="Most similar past tickets")
    auto_threshold: float | None = Field(
        None, title="At or above this probability the router dispatches on its own"
    )
    min_confidence: float = Field(0.0, title="Below this probability the router is not heard")


class Observation(_Message):
    """One piece of evidence that something of `category` is happening at a place and time."""

    id: str = Field(title="Deterministic id: the same input always gives the same id")
    source: Source
    source_id: str = Field(title="Camera id or ticket id")
    category: str
    confidence: float = Field(ge=0, le=1)
    observed_at: AwareDatetime
    location: GeoPoint | None = None
    district: str | None = None
    precision: Precision = "point"
    text: str | None = Field(None, title="Redacted ticket text (never the original)")
    language: Literal["zh", "en"] | None = None
    detections: tuple[Detection, ...] = ()
    privacy_boxes: tuple[Detection, ...] = Field(
        (), title="People and vehicles in the frame: hidden wherever the frame is shown"
    )
    frame_ref: str | None = Field(None, title="topic/partition/offset of the frame")
    # What a camera event rule decided (camera observations only; see core/camera_rules.py).
    rule_id: str | None = Field(None, title="Camera rule: category@camera/zone")
    rule_state: RuleState | None = Field(
        None, title="Camera event opened, continuing, or cleared (no longer seen)"
    )
    event_id: str | None = Field(None, title="Camera event id, the same from open to clear")
    event_opened_at: AwareDatetime | None = Field(None, title="When the camera event opened")
    zone: str | None = Field(None, title="Camera zone the rule watches")
    count: int | None = Field(None, ge=0, title="Objects that counted in the zone")
    track_ids: tuple[int, ...] = Field((), title="Tracker ids of the objects that counted")
    dwell_s: float | None = Field(None, ge=0, title="Longest stay of a counted tracked object")
    scene_score: float | None = Field(None, ge=0, le=1, title="Scene score for the category")
    embedding: tuple[float, ...] = Field(
        (), title="CLIP image embedding of the frame (unit vector), kept for similarity search"
    )
    advice: RouterAdvice | None = Field(None, title="The trained router's view (tickets only)")
    cell: str | None = Field(
        None,
        title="Geo cell (incidents.partition_resolution) that keys it, set by the job that made it",
    )


class RoutingDecision(_Message):
    department: str
    decided_by: DecidedBy
    reason: str
    model: str | None = Field(None, title="Model that proposed the department (decided_by=model)")
    prompt_version: str | None = Field(None, title="Prompt version of that proposal")
    advice: RouterAdvice | None = Field(
        None, title="The router's top labels and similar past tickets, when a router is used"
    )

    @model_serializer(mode="wrap")
    def _omit_unset_model(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Rule and fallback decisions serialise exactly as before the model fields existed."""
        data: dict[str, Any] = handler(self)
        for key in ("model", "prompt_version", "advice"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class GeneratedLabel(_Message):
    """Carried by every generated text: who wrote it, and whether a person has confirmed it."""

    generated_by: Literal["model", "template"]
    model: str | None = None
    prompt_version: str | None = None
    language: Literal["zh", "en"] = "en"
    verified: bool = Field(False, title="True only once a dispatcher has confirmed the text")
    note: str = Field("", title="Why the template was used, when it was")


class KeyFacts(_Message):
    """The facts a summary is built from, as structured fields beside the prose."""

    category: str
    category_name: str
    district: str | None
    district_name: str | None
    status: str
    severity: str
    ticket_count: int
    camera_count: int
    first_seen: datetime
    last_seen: datetime
    places: tuple[str, ...] = Field((), title="Named places the evidence mentions")


class Dispatch(_Message):
    """An incident handed to a department; `id` doubles as the idempotency key."""

    id: str
    incident_id: str
    department: str
    category: str
    district: str | None
    severity: str
    created_at: datetime
    routing: RoutingDecision
    summary: str
    summary_label: GeneratedLabel | None = None
    facts: KeyFacts | None = None


class Feedback(_Message):
    """A dispatcher's decision about an incident."""

    incident_id: str
    action: Literal["accept", "reassign", "resolve", "reject"]
    actor: str
    at: AwareDatetime
    department: str | None = Field(None, title="New department when reassigning")
    reason: str | None = None


CameraState = Literal["starting", "online", "offline", "frozen", "covered", "dark", "blurred"]


class CameraHealthAlert(_Message):
    """A change of a camera's health as the camera gateway sees it, on `<prefix>.alerts`
    (key = camera id; header `idempotency-key` = `<camera>:<state>:<since ms>`)."""

    type: Literal["camera_health"] = "camera_health"
    camera: str = Field(min_length=1, max_length=64, title="Camera id")
    name: str = Field(title="Where the camera looks, in words")
    district: str = Field(title="District id")
    state: CameraState = Field(title="The camera's state now")
    previous: CameraState = Field(title="Its state before")
    since: AwareDatetime = Field(title="When the state began (the condition's onset)")
    detail: str = Field("", title="Why, in words (never with credentials)")
    at: AwareDatetime = Field(title="When the gateway decided it")


class DeadLetter(_Message):
    """Headers of a DLQ record; its value is the original bytes (or their head, if huge)."""

    reason: str
    detail: str = ""
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    truncated: bool = False
    redacted: bool = Field(
        False, title="Personal data in the value was replaced; the source topic keeps the original"
    )
    at: datetime

    def to_headers(self) -> list[tuple[str, bytes]]:
        return [(f"dlq.{k}", str(v).encode()) for k, v in self.model_dump(mode="json").items()]
