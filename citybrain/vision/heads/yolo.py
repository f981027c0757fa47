"""The raw YOLO head [N, 4 + nc, A] into one Detections per frame: ultralytics' own NMS, then
boxes mapped back through each frame's letterbox."""

from __future__ import annotations

import numpy as np
import torch
from ultralytics.utils.nms import non_max_suppression

from citybrain.vision.detections import Detections
from citybrain.vision.preprocess import Letterbox


def decode_yolo(
    raw: np.ndarray | torch.Tensor,
    letterboxes: list[Letterbox],
    names: dict[int, str],
    conf: float,
    iou: float,
    max_det: int = 300,
) -> list[Detections]:
    """One Detections per frame, in frame order; extra batch rows (padding) are ignored."""
    pred = torch.as_tensor(raw)[: len(letterboxes)]
    if pred.ndim != 3 or pred.shape[1] < 5:
        raise ValueError(f"YOLO output of shape {tuple(pred.shape)} is not [N, 4 + nc, A]")
    kept = non_max_suppression(pred.float(), conf, iou, max_det=max_det)
    out = []
    for det, lb in zip(kept, letterboxes, strict=True):
        d = det.cpu().numpy()
        out.append(
            Detections.from_xyxy(
                lb.to_frame(d[:, :4]), d[:, 4], d[:, 5].astype(int), names, lb.width, lb.height
            )
        )
    return out
