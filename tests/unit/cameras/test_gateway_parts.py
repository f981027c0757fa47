"""The gateway's plumbing without streams: which cameras a shard reads, and the bounded queue
that never blocks a reader (the oldest sample makes room)."""

from __future__ import annotations

import queue
import threading

from citybrain.cameras.gateway import Gateway, plan
from citybrain.cameras.reader import Item, Note, offer
from citybrain.config.cameras import CameraGatewaySettings
from citybrain.core.city import City
from citybrain.streams.topics import Topics


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


class _NoSends:
    """Stands in for the producer: the loop under test sends nothing (no frame is encoded),
    it only flushes at the stop; the real producer is exercised by the integration tests."""

    def flush(self, timeout: float) -> None:
        raise TimeoutError("Kafka away at the stop")


def test_one_cameras_bad_item_never_ends_the_loop_for_the_others() -> None:
    """A bug in one camera's item (here a sample of a camera the gateway does not read) used
    to end `run()`, and with it every camera. Now it is counted and the loop goes on; a flush
    that fails at the stop is counted too instead of hiding the stop's report."""
    gw = Gateway([], CameraGatewaySettings(), _NoSends(), Topics("t"), max_pixels=10**6)  # type: ignore[arg-type]
    bad = Note("cam-unknown", "failed", "reader error")
    for _ in range(3):
        gw.queue.put(bad)
    loops = iter(range(10))
    gw.run(threading.Event(), until=lambda: next(loops) >= 5)
    assert gw.stats["handle_error"] == 3
    assert gw.stats["flush_failed"] == 1
