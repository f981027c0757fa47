"""The gateway's plumbing without streams: which cameras a shard reads, and the bounded queue
that never blocks a reader (the oldest sample makes room)."""

from __future__ import annotations

import queue

from citybrain.cameras.gateway import plan
from citybrain.cameras.reader import Item, Note, offer
from citybrain.config.cameras import CameraGatewaySettings
from citybrain.core.city import City


def test_shards_split_the_cameras_with_a_stream(city: City) -> None:
    cams = [
        c.model_copy(update={"stream": f"rtsp://10.0.0.{i}/s"}) if i % 4 else c
        for i, c in enumerate(city.cameras)
    ]
    with_stream = {c.id for c in cams if c.stream}
    shards = [
        {p.camera.id for p in plan(cams, CameraGatewaySettings(shard_index=i, shard_count=3))}
        for i in range(3)
    ]
    assert set().union(*shards) == with_stream
    assert sum(len(s) for s in shards) == len(with_stream)  # each camera in one shard only
    only = plan(cams, CameraGatewaySettings(), only={"cam-02"})
    assert [p.camera.id for p in only] == ["cam-02"]


def test_a_full_queue_drops_the_oldest_without_waiting() -> None:
    q: queue.Queue[Item] = queue.Queue(maxsize=2)
    notes = [Note("cam-01", "failed", str(i)) for i in range(3)]
    assert offer(q, notes[0]) and offer(q, notes[1])
    assert not offer(q, notes[2])  # full: the oldest went
    assert [q.get_nowait(), q.get_nowait()] == notes[1:]
