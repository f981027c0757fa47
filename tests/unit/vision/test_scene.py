"""Zero-shot scene head on fixture embeddings (no model): ensembles, softmax, background."""

from __future__ import annotations

import numpy as np
import pytest

from citybrain.vision.scene import ZeroShotHead, ensemble

D = 8
AXES = np.eye(D, dtype=np.float32)
# Fixture "text encoder": each prompt maps to a fixed unit vector.
PROMPT_VECTORS = {
    "a flooded street": AXES[0],
    "water on the road": (AXES[0] + 0.2 * AXES[5]) / np.linalg.norm(AXES[0] + 0.2 * AXES[5]),
    "a pothole": AXES[1],
    "a fallen tree": AXES[2],
    "an ordinary street": AXES[3],
}
PROMPTS = {
    "flooding": ("a flooded street", "water on the road"),
    "pothole": ("a pothole",),
    "fallen_tree": ("a fallen tree",),
    "noise": (),  # no prompts: not a visual category, left out
}


def fake_embed(texts: list[str]) -> np.ndarray:
    return np.stack([PROMPT_VECTORS[t] for t in texts])


def head() -> ZeroShotHead:
    return ZeroShotHead.from_prompts(PROMPTS, ["an ordinary street"], fake_embed, 50.0)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_ensemble_is_the_renormalised_mean() -> None:
    e = ensemble(np.stack([AXES[0], AXES[1]]))
    assert np.allclose(e, unit(AXES[0] + AXES[1]))
    assert np.isclose(np.linalg.norm(e), 1.0)


def test_categories_without_prompts_are_left_out() -> None:
    assert head().categories == ("flooding", "pothole", "fallen_tree")


def test_clear_image_scores_its_category_and_keeps_the_embedding() -> None:
    img = unit(AXES[1] + 0.1 * AXES[6])
    [s] = head().score(img[None, :])
    assert s.top == "pothole"
    assert s.scores["pothole"] > 0.99
    assert np.isclose(sum(s.scores.values()) + s.background, 1.0)
    assert np.array_equal(s.embedding, img)


def test_calm_street_goes_to_background() -> None:
    [s] = head().score(AXES[3][None, :])
    assert s.background > 0.99 and max(s.scores.values()) < 0.01


def test_two_events_share_the_softmax() -> None:
    img = unit(AXES[0] + AXES[2])
    [both] = head().score(img[None, :])  # about half each: the rules' thresholds decide
    assert 0.4 < both.scores["flooding"] < 0.6 and 0.4 < both.scores["fallen_tree"] < 0.6


def test_batch_scores_rows_independently() -> None:
    out = head().score(np.stack([AXES[0], AXES[2], AXES[3]]))
    assert [s.top for s in out[:2]] == ["flooding", "fallen_tree"]
    assert out[2].background > 0.99


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"\[N, 8\]"):
        head().score(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="background"):
        ZeroShotHead.from_prompts(PROMPTS, [], fake_embed, 50.0)
