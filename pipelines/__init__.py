"""The three stream jobs. Each is a short composition of citybrain stages; run one with
`citybrain run vision|tickets|incidents`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citybrain.config import Settings
    from citybrain.core.city import City
    from citybrain.store import Store
    from citybrain.streams.worker import Stage

JOBS = ("vision", "tickets", "incidents")


def build_stage(job: str, settings: Settings, city: City, store: Store) -> tuple[Stage, list[str]]:
    """The stage for `job` and the topics it consumes."""
    from citybrain.streams.topics import Topics

    topics = Topics(settings.kafka.topic_prefix)
    if job == "vision":
        from citybrain.vision.detector import Detector
        from pipelines.vision import VisionStage

        return VisionStage(settings, city, topics, Detector.load(settings.vision)), [topics.frames]
    if job == "tickets":
        from pipelines.tickets import TicketStage

        return TicketStage(settings, city, topics), [topics.tickets]
    if job == "incidents":
        from pipelines.incidents import IncidentStage

        return IncidentStage(settings, city, topics, store), [topics.observations]
    raise ValueError(f"unknown job {job!r}; expected one of {', '.join(JOBS)}")
