"""Zero-shot scene scores: CLIP image embeddings against the taxonomy's prompt ensembles.

Each category's prompts (`clip_prompts` in the taxonomy) are embedded once and averaged into
one unit vector (prompt ensembling); a background ensemble stands for "nothing wrong", so a
calm street is not forced into some category by the softmax. The per-category thresholds that
decide what a score means live in one place, the camera rules (`rules.*.scene_threshold`, per
category, camera and zone), which see these scores. The image embedding travels with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from citybrain.config.vision import ClipSettings
from citybrain.core.city import City

BACKGROUND = "background"


@dataclass(frozen=True)
class SceneScores:
    scores: dict[str, float]  # category -> softmax share (background included in the softmax)
    background: float
    embedding: np.ndarray  # unit image embedding [D], float32

    @property
    def top(self) -> str:
        """The best category (ignoring background)."""
        return max(self.scores, key=self.scores.__getitem__)


def ensemble(prompt_embeddings: np.ndarray) -> np.ndarray:
    """Mean of unit prompt embeddings, renormalised: one direction per category."""
    v = prompt_embeddings.astype(np.float32).mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


class ZeroShotHead:
    """Pure scoring over ready text directions; `from_city` does the model work."""

    def __init__(
        self,
        categories: Sequence[str],
        directions: np.ndarray,
        background: np.ndarray,
        logit_scale: float,
    ) -> None:
        if directions.shape[0] != len(categories) or not categories:
            raise ValueError("need one text direction per category, and at least one category")
        self.categories = tuple(categories)
        self.text = np.vstack([directions, background[None, :]]).astype(np.float32)
        self.logit_scale = float(logit_scale)

    @classmethod
    def from_prompts(
        cls,
        prompts: Mapping[str, Sequence[str]],
        background_prompts: Sequence[str],
        embed: Callable[[list[str]], np.ndarray],
        logit_scale: float,
    ) -> ZeroShotHead:
        """Embed every category's prompts with `embed(texts) -> [n, D]` and ensemble them."""
        if not background_prompts:
            raise ValueError("at least one background prompt is needed")
        cats = [c for c, p in prompts.items() if p]
        dirs = np.stack([ensemble(embed(list(prompts[c]))) for c in cats])
        bg = ensemble(embed(list(background_prompts)))
        return cls(cats, dirs, bg, logit_scale)

    @classmethod
    def from_city(cls, city: City, model: object, settings: ClipSettings) -> ZeroShotHead:
        """Categories with `clip_prompts` in the taxonomy, embedded by a CLIP model."""
        from citybrain.vision.clip import embed_texts

        prompts = {c.id: c.clip_prompts for c in city.categories if c.clip_prompts}
        scale = float(model.logit_scale.detach().exp().clamp(max=100.0))  # type: ignore[attr-defined]
        return cls.from_prompts(
            prompts,
            settings.background_prompts,
            lambda texts: embed_texts(model, texts),  # type: ignore[arg-type]
            scale,
        )

    def score(self, image_embeddings: np.ndarray) -> list[SceneScores]:
        """One SceneScores per row of unit image embeddings [N, D]."""
        emb = np.asarray(image_embeddings, np.float32)
        if emb.ndim != 2 or emb.shape[1] != self.text.shape[1]:
            raise ValueError(f"image embeddings must be [N, {self.text.shape[1]}], got {emb.shape}")
        logits = self.logit_scale * emb @ self.text.T
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out: list[SceneScores] = []
        for row, e in zip(probs, emb, strict=True):
            scores = {c: float(p) for c, p in zip(self.categories, row[:-1], strict=True)}
            out.append(SceneScores(scores, float(row[-1]), e.copy()))
        return out
