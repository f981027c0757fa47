"""The configured inference backend with the detector's class names."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from citybrain.config.vision import VisionSettings
from citybrain.core.city import City
from citybrain.vision.backends.base import CLIP_IMAGE, DETECTOR, INPUT, InferenceBackend
from citybrain.vision.backends.local import LocalBackend, load_detector
from citybrain.vision.scene import ZeroShotHead

log = logging.getLogger(__name__)


def load_scene_head(settings: VisionSettings, city: City) -> tuple[Any, ZeroShotHead] | None:
    """The CLIP model and its zero-shot head over the taxonomy's prompts, when scene scores are
    on. The text side always runs here (a few prompts, once); images go through the backend."""
    if not settings.clip.scene_scores:
        return None
    from citybrain.vision.clip import load_clip

    clip, _ = load_clip(settings.clip.weights)
    return clip, ZeroShotHead.from_city(city, clip, settings.clip)


def build_backend(
    settings: VisionSettings, clip: Any | None = None
) -> tuple[InferenceBackend, dict[int, str]]:
    """`local` loads the detector (and the CLIP image tower, if given) into this process;
    `triton` connects to the server named in the Triton settings, whose repository
    (`citybrain models export`) serves both and carries the detector's class names."""
    if settings.backend == "local":
        model, names = load_detector(settings.model, trust_pickle=settings.trust_pickled_model)
        half = settings.buffer_dtype == "float16" and settings.device.startswith("cuda")
        models: dict[str, Any] = {DETECTOR: model}
        if clip is not None:
            from citybrain.vision.clip import ImageTower

            models[CLIP_IMAGE] = ImageTower(clip).eval()
        backend = LocalBackend(models, device=settings.device, half=half)
        # torch's first call is slow (allocations, kernel selection): pay it before the stream
        # worker joins its group, not inside a poll
        backend.infer(
            DETECTOR, {INPUT: np.zeros((1, 3, settings.imgsz, settings.imgsz), np.float32)}
        )
        return backend, names
    from citybrain.vision.backends.triton import TritonBackend

    triton = TritonBackend.connect(settings.triton)
    labels = triton.labels(DETECTOR)
    if labels:
        return triton, dict(enumerate(labels))
    log.warning(
        "the Triton detector carries no labels (exported before they were): names from %s",
        settings.model,
    )
    return triton, load_detector(settings.model, trust_pickle=settings.trust_pickled_model)[1]
