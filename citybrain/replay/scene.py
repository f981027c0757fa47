"""Where `eval detections --scene` gets its zero-shot scene scorer: the configured CLIP model
and the taxonomy's prompt ensembles (`vision.clip`), the same head the vision job uses."""

from __future__ import annotations

import numpy as np

from citybrain.city_loading import load_city
from citybrain.config import Settings
from citybrain.replay.errors import LabelError
from citybrain.replay.eval_detections import ScoreFn
from citybrain.vision.scene import BACKGROUND


def load_scene_scorer(settings: Settings) -> ScoreFn:
    """scores(BGR images) -> one {category: share} per image, "background" included, so an
    image of an ordinary street can be labelled as such."""
    from citybrain.vision.clip import embed_images, load_clip, preprocess
    from citybrain.vision.scene import ZeroShotHead

    path = settings.vision.clip.weights
    if not path.exists():
        raise LabelError(f"CLIP weights not found: {path} (vision.clip.weights)")
    model, _ = load_clip(path)
    head = ZeroShotHead.from_city(load_city(settings), model, settings.vision.clip)

    def scores(images: list[np.ndarray]) -> list[dict[str, float]]:
        out = head.score(embed_images(model, preprocess(images)))
        return [{**s.scores, BACKGROUND: s.background} for s in out]

    return scores
