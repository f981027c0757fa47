"""The four stream jobs (vision, tickets, incidents, dispatch). Each is a short composition of citybrain stages; run one with
`citybrain run vision|tickets|incidents|dispatch`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citybrain.config import Settings
    from citybrain.core.city import City
    from citybrain.store import Store
    from citybrain.streams.worker import Stage

JOBS = ("vision", "tickets", "incidents", "dispatch")


def build_stage(job: str, settings: Settings, city: City, store: Store) -> tuple[Stage, list[str]]:
    """The stage for `job` and the topics it consumes."""
    from citybrain.streams.topics import Topics

    topics = Topics(settings.kafka.topic_prefix)
    if job == "vision":
        from citybrain.vision.backends.factory import build_backend, load_scene_head
        from pipelines.vision import VisionStage

        scene = load_scene_head(settings.vision, city)
        backend, names = build_backend(settings.vision, scene[0] if scene else None)
        stage = VisionStage(settings, city, topics, backend, names, scene=scene and scene[1])
        return stage, [topics.frames]
    if job == "tickets":
        from pipelines.tickets import TicketStage

        return TicketStage(settings, city, topics), [topics.tickets]
    if job == "incidents":
        from pipelines.incidents import IncidentStage

        return IncidentStage(settings, city, topics, store), [
            topics.observations,
            topics.feedback,
        ]
    if job == "dispatch":
        from pipelines.dispatch import build_dispatch_stage

        return build_dispatch_stage(settings, city, topics, store), [topics.incidents]
    raise ValueError(f"unknown job {job!r}; expected one of {', '.join(JOBS)}")
