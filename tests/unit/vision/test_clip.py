"""The small CLIP: built offline, saved and loaded, preprocessing, unit embeddings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.sim.captions import visible_categories
from citybrain.sim.dataset import plan_frames
from citybrain.sim.render import render_annotated
from citybrain.vision.clip import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGE_SIZE,
    TINY_CONFIG,
    build_clip,
    embed_images,
    embed_texts,
    load_clip,
    preprocess,
    save_clip,
)
from citybrain.vision.scene import ZeroShotHead

DEMO_WEIGHTS = Path("models/demo/citybrain-clip-tiny.pt")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_clip(TINY_CONFIG, seed=0)


def test_preprocess_resizes_whole_frame_to_rgb_normalised_chw() -> None:
    img = np.zeros((90, 160, 3), np.uint8)
    img[:, :80] = (255, 0, 0)  # left half blue (BGR)
    gray = np.full((33, 17), 128, np.uint8)
    x = preprocess([img, gray])
    assert x.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE) and x.dtype == np.float32
    # left edge: blue in RGB channel 2; nothing cropped away
    assert np.isclose(x[0, 2, 100, 0], (1 - CLIP_MEAN[2]) / CLIP_STD[2], atol=1e-5)
    assert np.isclose(x[0, 0, 100, 0], (0 - CLIP_MEAN[0]) / CLIP_STD[0], atol=1e-5)
    ref = cv2.resize(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), (IMAGE_SIZE, IMAGE_SIZE)) / 255.0
    assert np.allclose(x[1].transpose(1, 2, 0), (ref - CLIP_MEAN) / CLIP_STD, atol=1e-5)


def test_embeddings_are_unit_vectors(model: torch.nn.Module) -> None:
    t = embed_texts(model, ["a flooded street", "a fallen tree"])
    i = embed_images(model, preprocess([np.zeros((50, 80, 3), np.uint8)]))
    dim = TINY_CONFIG["embed_dim"]
    assert t.shape == (2, dim) and i.shape == (1, dim)
    assert np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(i, axis=1), 1, atol=1e-5)


def test_seeded_build_is_reproducible_and_save_load_round_trips(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    again = build_clip(TINY_CONFIG, seed=0)
    x = preprocess([np.full((40, 40, 3), 90, np.uint8)])
    assert np.array_equal(embed_images(model, x), embed_images(again, x))
    path = tmp_path / "clip.pt"
    save_clip(model, path, TINY_CONFIG, {"note": "test"})
    loaded, meta = load_clip(path)
    assert meta == {"note": "test"}
    # stored as float16: embeddings agree to half precision
    assert np.allclose(embed_images(loaded, x), embed_images(model, x), atol=5e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.pt"]  # no temp file left


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CLIP checkpoint"):
        load_clip(tmp_path / "nope.pt")


def test_demo_weights_are_small_and_mean_something(city: City, settings: Settings) -> None:
    """The committed demo model on held-out frames, with the taxonomy's prompts (which training
    never saw): far above chance (1/7). The model card reports the whole held-out split."""
    assert DEMO_WEIGHTS.stat().st_size < 10_000_000
    model, _ = load_clip(DEMO_WEIGHTS)
    head = ZeroShotHead.from_city(city, model, settings.vision.clip)
    classes = {c.id: c.detector_classes for c in city.categories}
    frames, truth = [], []
    for plan in plan_frames(city, "val", 80, seed=1):  # the split the card evaluates on
        img, boxes = render_annotated(plan.camera, plan.events, plan.t, 448, 252, plan.noise_rng())
        shown = visible_categories([e.category for e in plan.events], boxes, classes)
        if len(shown) == 1:
            frames.append(img)
            truth.append(shown[0])
    scores = head.score(embed_images(model, preprocess(frames)))
    top1 = float(np.mean([s.top == t for s, t in zip(scores, truth, strict=True)]))
    assert len(frames) >= 20
    assert top1 >= 0.8, f"zero-shot top-1 {top1:.2f} on {len(frames)} frames"
    assert all(np.isclose(np.linalg.norm(s.embedding), 1, atol=1e-4) for s in scores)
