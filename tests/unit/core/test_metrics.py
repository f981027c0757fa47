import pytest

from citybrain.core.metrics import score


def test_scores_against_a_hand_computed_example() -> None:
    truth = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    s = score(truth, pred)
    assert s.accuracy == pytest.approx(3 / 5)
    # a: tp1 fp1 fn1 -> 0.5; b: tp2 fp1 fn0 -> 0.8; c: tp0 fp0 fn1 -> 0
    assert s.f1 == pytest.approx({"a": 0.5, "b": 0.8, "c": 0.0})
    assert s.macro_f1 == pytest.approx(1.3 / 3)
    assert s.confusion[("a", "b")] == 1 and s.confusion[("c", "a")] == 1


def test_empty_and_mismatched() -> None:
    assert score([], []).accuracy == 0.0
    with pytest.raises(ValueError):
        score(["a"], [])
