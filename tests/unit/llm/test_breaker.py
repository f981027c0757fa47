from citybrain.llm.breaker import CircuitBreaker


def test_opens_after_failures_then_lets_one_trial_through() -> None:
    now = [0.0]
    b = CircuitBreaker(failures=2, reset_s=10, clock=lambda: now[0])
    b.failure()
    assert b.allow() and b.state == "closed"
    b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 11
    assert b.state == "half-open"
    assert b.allow() and not b.allow()  # exactly one trial
    b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 22
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()
