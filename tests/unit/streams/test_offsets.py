from citybrain.streams.offsets import OffsetTracker


def test_commit_point_stays_at_the_oldest_record_in_flight() -> None:
    t = OffsetTracker()
    tp = ("frames", 0)
    for off in range(5):
        t.seen(tp, off)
    assert t.advance() == {tp: 0}
    t.done(tp, 1)
    t.done(tp, 2)
    assert t.advance() == {}  # 0 still in flight
    t.done(tp, 0)
    assert t.advance() == {tp: 3}
    t.done(tp, 4)
    t.done(tp, 3)
    assert t.advance() == {tp: 5} and t.in_flight() == 0
    t.seen(("frames", 1), 7)
    t.done(("frames", 1), 7)
    assert t.advance() == {("frames", 1): 8}
    t.reset()
    assert t.advance() == {}
