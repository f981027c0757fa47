"""The cross-camera batcher on a hand-driven clock (pure logic: no broker, no model)."""

from __future__ import annotations

from citybrain.vision.batcher import FrameBatcher


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def batcher(clock: Clock, fps: float = 0.0, **kw: int) -> FrameBatcher[str]:
    args = {"max_batch": 4, "max_queued": 10, "camera_queue": 3} | kw
    return FrameBatcher(max_delay_s=0.25, fps=lambda _cam: fps, burst_s=2.0, clock=clock, **args)


def test_batch_closes_at_max_size_or_max_delay() -> None:
    clock = Clock()
    b = batcher(clock)
    for i in range(3):
        b.offer(f"cam-{i}", 0, f"f{i}")
    assert not b.ready()  # 3 < 4 and nobody waited yet
    clock.t += 0.2
    assert not b.ready()
    clock.t += 0.06
    assert b.ready()  # the oldest waited 0.26 s
    assert b.take() == ["f0", "f1", "f2"] and len(b) == 0 and not b.ready()
    for i in range(4):
        b.offer("cam-0" if i < 2 else "cam-1", 0, f"g{i}")
    assert b.ready()  # full batch, no waiting


def test_round_robin_keeps_a_flooding_camera_from_starving_others() -> None:
    clock = Clock()
    b = batcher(clock, max_batch=4, camera_queue=50, max_queued=100)
    for i in range(40):
        b.offer("flood", 0, f"x{i}")
    b.offer("quiet-1", 0, "q1")
    b.offer("quiet-2", 0, "q2")
    first = b.take()
    assert "q1" in first and "q2" in first  # one batch, both quiet cameras served
    assert first == ["x0", "q1", "q2", "x1"]


def test_camera_over_its_rate_is_skipped_in_event_time() -> None:
    clock = Clock()
    b = batcher(clock, fps=1.0, max_batch=1000, max_queued=1000, camera_queue=1000)
    verdicts = [b.offer("fast", i * 100, i)[0] for i in range(100)]  # 10 fps for 10 s
    admitted = verdicts.count("queued")
    # burst of 2 s (2 frames) + 1 frame per second of event time over 9.9 s
    assert 10 <= admitted <= 12
    assert verdicts.count("rate_limited") == 100 - admitted
    # another camera at its own rate is unaffected
    assert [b.offer("calm", i * 1000, i)[0] for i in range(10)] == ["queued"] * 10


def test_overload_pushes_out_a_cameras_oldest_frame() -> None:
    clock = Clock()
    b = batcher(clock, camera_queue=2, max_batch=10)
    assert b.offer("c", 0, "a") == ("queued", [])
    assert b.offer("c", 0, "b") == ("queued", [])
    assert b.offer("c", 0, "c") == ("queued", ["a"])
    assert len(b) == 2 and b.take() == ["b", "c"]


def test_full_and_put_back_go_first() -> None:
    clock = Clock()
    b = batcher(clock, max_queued=3, max_batch=2)
    for i in range(3):
        b.offer(f"cam-{i}", 0, f"f{i}")
    assert b.full()
    taken = b.take()
    assert taken == ["f0", "f1"] and not b.full()
    b.put_back([("cam-0", "f0"), ("cam-1", "f1")])
    assert b.ready()  # put-back frames count as having waited already
    assert b.take() == ["f0", "f1"]
    assert b.clear() == ["f2"] and len(b) == 0


def test_a_camera_clock_set_back_restarts_its_rate_limit() -> None:
    """A camera's clock goes back an hour: its bucket restarts from the new time. Before, it
    refilled nothing until the clock passed the old time again: an hour of frames skipped."""
    clock = Clock()
    b = batcher(clock, fps=1.0, max_batch=1000, max_queued=1000, camera_queue=1000)
    assert [b.offer("cam", i * 1000, i)[0] for i in range(10)] == ["queued"] * 10
    back = -3_600_000
    verdicts = [b.offer("cam", back + i * 1000, i)[0] for i in range(20)]
    assert verdicts == ["queued"] * 20 and b.clock_resets == 1
    # a small step back (within the burst) is an out-of-order frame: it refills nothing
    assert b.offer("cam", back + 18_500, "late")[0] == "rate_limited"
    assert b.clock_resets == 1
