"""Original YOLOv5 checkpoints (the anchor-based head) as a model with ultralytics' output.

Many deployed city detectors are still original YOLOv5 weights. Their backbone and neck are
the layers of ultralytics' own `yolov5?.yaml` model, names and shapes identical; only the head
differs (three anchors per cell, objectness times class scores). `AnchorDetect` is that head
written so its output is exactly what ultralytics' anchor-free `Detect` returns in eval mode,
`[N, 4 + nc, A]` (centre x, y, width, height in input pixels, then one score per class), so the
one decoder (`heads.yolo.decode_yolo`), the local backend and the Triton export take either
kind of weights unchanged.

The checkpoint format read here is YOLOv5's own checkpoint re-saved as plain tensors (no
pickled YOLOv5 classes): a dict with `state_dict` (keys `model.N...`), `names`, `yaml` (the
architecture dict with depth/width multiples and `anchors`) and `stride`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

ANCHOR_KEY = "anchors"


class AnchorDetect(nn.Module):
    """YOLOv5's anchor head: per stride a 1x1 convolution to anchors x (5 + nc) channels."""

    def __init__(
        self, nc: int, anchors: torch.Tensor, channels: list[int], strides: list[float]
    ) -> None:
        super().__init__()
        self.nc = nc
        self.na = int(anchors.shape[1])
        self.m: nn.ModuleList = nn.ModuleList(nn.Conv2d(c, self.na * (5 + nc), 1) for c in channels)
        # Stored in stride units, as YOLOv5 keeps them (model.24.anchors).
        self.register_buffer(ANCHOR_KEY, anchors.float().clone())
        self.register_buffer("strides", torch.tensor(strides, dtype=torch.float32))
        # What ultralytics' layer loop reads from every layer (set by from_detect).
        self.f: list[int] = []
        self.i = 0
        self.type = "AnchorDetect"  # type: ignore[assignment,method-assign]  # as ultralytics sets it

    def forward(self, xs: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(boxes and scores [N, 4 + nc, A], raw maps), the same pair Detect returns in eval."""
        out = []
        for level, x in enumerate(xs):
            b, _, h, w = x.shape
            raw = self.m[level](x)
            p = raw.view(b, self.na, 5 + self.nc, h, w).permute(0, 1, 3, 4, 2).sigmoid()
            yy, xx = torch.meshgrid(
                torch.arange(h, device=x.device, dtype=p.dtype),
                torch.arange(w, device=x.device, dtype=p.dtype),
                indexing="ij",
            )
            grid = torch.stack((xx, yy), -1).view(1, 1, h, w, 2)
            stride = self.get_buffer("strides")[level].to(p.dtype)
            anchor = (self.get_buffer(ANCHOR_KEY)[level].to(p.dtype) * stride).view(
                1, self.na, 1, 1, 2
            )
            xy = (p[..., :2] * 2 - 0.5 + grid) * stride
            wh = (p[..., 2:4] * 2) ** 2 * anchor
            scores = p[..., 5:] * p[..., 4:5]
            out.append(torch.cat((xy, wh, scores), -1).reshape(b, -1, 4 + self.nc))
        return torch.cat(out, 1).permute(0, 2, 1).contiguous(), list(xs)


def read_anchor_checkpoint(path: Path) -> dict[str, Any] | None:
    """The contents of a plain-tensor YOLOv5 checkpoint (its head has anchors), or None for
    anything else, an ultralytics .pt included."""
    if path.suffix != ".pt":
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # an ultralytics .pt pickles classes: weights_only refuses it
        return None
    ok = isinstance(ck, dict) and "state_dict" in ck and "yaml" in ck and "names" in ck
    return ck if ok else None


def is_anchor_checkpoint(path: Path) -> bool:
    return read_anchor_checkpoint(path) is not None


def _scale_name(cfg: dict[str, Any]) -> str:
    """ultralytics' yolov5 scale letter for YOLOv5's depth/width multiples."""
    scales = {(0.33, 0.25): "n", (0.33, 0.50): "s", (0.67, 0.75): "m", (1.0, 1.0): "l"}
    key = (round(float(cfg["depth_multiple"]), 2), round(float(cfg["width_multiple"]), 2))
    if key not in scales:
        raise ValueError(f"no ultralytics yolov5 scale for depth/width {key}")
    return scales[key]


def anchor_model(ck: dict[str, Any], path: Path) -> tuple[nn.Module, dict[int, str]]:
    """The whole YOLOv5 detector from a plain-tensor checkpoint read from `path`: ultralytics'
    backbone and neck for layers 0..N-2 and `AnchorDetect` in place of the anchor-free head."""
    from ultralytics.nn.tasks import DetectionModel

    cfg, sd = ck["yaml"], ck["state_dict"]
    names = ck["names"]
    names = dict(enumerate(names)) if isinstance(names, list | tuple) else dict(names)
    nc = len(names)
    model = DetectionModel(f"yolov5{_scale_name(cfg)}.yaml", nc=nc, verbose=False)
    layers = cast(nn.Sequential, model.model)
    head_index = len(layers) - 1
    old = layers[-1]
    prefix = f"model.{head_index}."
    anchors = sd[prefix + ANCHOR_KEY]
    convs = [sd[f"{prefix}m.{k}.weight"] for k in range(anchors.shape[0])]
    strides = [float(s) for s in ck.get("stride", [8, 16, 32])]
    head = AnchorDetect(nc, anchors, [int(w.shape[1]) for w in convs], strides)
    head.f, head.i = list(getattr(old, "f")), int(getattr(old, "i"))  # noqa: B009  # ultralytics layer attributes
    layers[-1] = head
    model.stride = torch.tensor(strides)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or [k for k in missing if not k.startswith(prefix + "strides")]:
        raise ValueError(
            f"{path}: not a YOLOv5 checkpoint of this architecture "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.names = {int(k): str(v) for k, v in names.items()}
    return model.float().eval(), {int(k): str(v) for k, v in names.items()}


def backbone_state(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors without its head: the pretrained start for fine-tuning an
    anchor-free ultralytics model of the same scale on other classes."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    sd: dict[str, torch.Tensor] = ck["state_dict"]
    head = max(int(k.split(".")[1]) for k in sd)
    return {k: v for k, v in sd.items() if int(k.split(".")[1]) != head}
