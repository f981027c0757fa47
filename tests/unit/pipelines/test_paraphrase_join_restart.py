"""The incident worker joins a paraphrase to the incident it describes, and so does a worker
that starts afterwards: it rebuilds the report texts from the real SQLite store (no broker:
the stage runs under the real worker loop with an in-memory consumer, streams/testing.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.messages import GeoPoint, Observation
from citybrain.store import Store
from citybrain.streams.testing import Incoming, StageHarness
from citybrain.streams.topics import Topics
from pipelines.incidents import IncidentStage

AT = GeoPoint(lon=120.128, lat=30.287)
REPORTS = [
    ("flooding", "新华路与中山路交叉口路面积水很深，车都过不去，水已经没过膝盖了。"),
    ("noise", "人民路酒吧音乐太吵，一直到凌晨两点。"),
    ("streetlight_out", "解放路路灯坏了，晚上一片漆黑。"),
]
PARAPHRASE = "新华路中山路口雨后路上的水没过了膝盖，车子泡在水里熄火了。"


def _obs(i: int, category: str, text: str, at: datetime) -> bytes:
    return Observation(
        id=f"o{i}", source="ticket", source_id=f"T{i}", category=category, confidence=0.9,
        observed_at=at, location=AT if category in (UNCLASSIFIED, "flooding") else None,
        district="xicheng", precision="point", text=text,
    ).model_dump_json().encode()  # fmt: skip


def test_a_restarted_worker_joins_the_paraphrase_like_the_first(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
            # the configured matcher (the sentence encoder) at its threshold
            "incidents": settings.incidents.model_copy(update={"paraphrase_similarity": 0.45}),
        }
    )
    store, topics = Store.from_url(s.store.url), Topics("t")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    first = IncidentStage(s, city, topics, store)
    StageHarness(first).run(
        [Incoming(topics.observations, _obs(i, c, t, t0), b"k") for i, (c, t) in enumerate(REPORTS)]
    )
    flood = next(i for i in first.fuser.incidents.values() if i.category == "flooding")

    later = IncidentStage(s, city, topics, store)  # a restart: state and texts from the store
    StageHarness(later).run(
        [
            Incoming(
                topics.observations,
                _obs(9, UNCLASSIFIED, PARAPHRASE, t0 + timedelta(minutes=20)),
                b"k",
            )
        ]
    )
    assert later.stats["paraphrase_joins"] == 1
    stored = store.load_incident(flood.id)
    assert stored is not None and stored.evidence_ids[-1] == "o9"
    assert stored.category == "flooding"
