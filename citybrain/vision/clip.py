"""A small CLIP (open_clip architecture) for zero-shot scene scores and image embeddings.

No pretrained CLIP weights can be fetched where citybrain is built, so the demo model is a
deliberately tiny ViT image tower and text transformer trained on the synthetic city
(tools/train_demo_clip.py, or tools/train_demo_models.py --clip). Production swaps in a bigger
architecture by writing another checkpoint: the checkpoint carries its own architecture, so
nothing here changes.

Checkpoint format (`torch.save` of a dict): `config` (open_clip CLIP arguments),
`state_dict` (float16 tensors, to keep the file small) and `meta` (free-form, e.g. metrics).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from citybrain.vision.preprocess import CLIP_MEAN as _MEAN
from citybrain.vision.preprocess import CLIP_STD as _STD
from citybrain.vision.preprocess import preprocess_clip

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a pretrained name fails fast instead of retrying

IMAGE_SIZE = 224
# OpenAI CLIP normalisation (open_clip.constants.OPENAI_DATASET_MEAN / _STD), RGB order.
CLIP_MEAN = np.array(_MEAN, np.float32)  # one source: the kernel's (vision/preprocess.py)
CLIP_STD = np.array(_STD, np.float32)

# The image tower sees the 224x224 contract input average-pooled to 112x112 (ImageTower):
# a quarter of the work, which is what lets it train on two CPU cores; synthetic frames lose
# nothing that matters at that scale. ~0.2 M image + ~3.2 M text parameters (most of them
# the 49,408-token BPE embedding).
TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {
        "image_size": IMAGE_SIZE // 2,
        "patch_size": 16,
        "width": 64,
        "layers": 4,
        "head_width": 32,
    },
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def build_clip(config: dict[str, Any] | None = None, seed: int = 0) -> nn.Module:
    """An open_clip CLIP with random weights (fixed seed), built offline."""
    from open_clip.model import CLIP

    cfg = config or TINY_CONFIG
    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=cfg["embed_dim"],
        vision_cfg=dict(cfg["vision_cfg"]),
        text_cfg=dict(cfg["text_cfg"]),
    )
    return model.eval()


def save_clip(
    model: nn.Module, path: Path, config: dict[str, Any], meta: dict[str, Any] | None = None
) -> None:
    """Write a checkpoint atomically (temp file + rename), weights as float16."""
    state = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        torch.save({"config": config, "state_dict": state, "meta": meta or {}}, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is for everyone to read
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_clip(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model (float32, eval mode) and its checkpoint's `meta`."""
    if not path.exists():
        raise FileNotFoundError(f"CLIP checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = build_clip(ckpt["config"])
    model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    return model.eval(), dict(ckpt.get("meta", {}))


def context_length(model: nn.Module) -> int:
    return int(model.context_length)  # type: ignore[arg-type]


def tower_size(clip: nn.Module) -> int:
    size: Any = clip.visual.image_size  # type: ignore[union-attr]
    return int(size[0] if isinstance(size, tuple | list) else size)


def encode_images(clip: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Unnormalised image features of [N,3,224,224] input, pooled to the tower's own size."""
    factor = IMAGE_SIZE // tower_size(clip)  # a constant, so tracing keeps it one
    if factor > 1:
        images = nn.functional.avg_pool2d(images, factor)
    return clip.encode_image(images)  # type: ignore[operator]


class ImageTower(nn.Module):
    """The `clip_image` contract: normalised images [N,3,224,224] -> unit embeddings [N,D]."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(encode_images(self.clip, images), dim=-1)


def preprocess(images_bgr: Sequence[np.ndarray], size: int = IMAGE_SIZE) -> np.ndarray:
    """BGR (or grey) frames -> float32 [N,3,size,size], RGB, CLIP-normalised: the vision job's
    own numba kernel, so evaluation sees exactly what serving sees.

    The whole frame is resized to a square (no centre crop): street events sit at the frame's
    edges (bins on the left, parked cars on the right) and a crop would cut them off.
    """
    out = np.empty((len(images_bgr), 3, size, size), np.float32)
    preprocess_clip(list(images_bgr), out, mode="resize")
    return out


def tokenize(texts: Sequence[str], length: int) -> torch.Tensor:
    """open_clip's bundled BPE tokenizer (no download), padded/truncated to `length`."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=length)(list(texts))


@torch.no_grad()
def embed_texts(model: nn.Module, texts: Sequence[str]) -> np.ndarray:
    """Unit text embeddings [len(texts), D] as float32."""
    feats = model.encode_text(tokenize(texts, context_length(model)))  # type: ignore[operator]
    return nn.functional.normalize(feats, dim=-1).float().numpy()


@torch.no_grad()
def embed_images(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """Unit image embeddings of preprocessed images (the local twin of `clip_image`)."""
    return ImageTower(model)(torch.from_numpy(images)).float().numpy()
