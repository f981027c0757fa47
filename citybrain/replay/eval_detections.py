"""Detector precision, recall and AP50 on labelled images, and frames per second.

Matching follows ultralytics' validator: predictions in descending confidence each claim the
unclaimed same-class box they overlap most, if IoU >= 0.5. AP50 is COCO's definition as
pycocotools computes it: the precision envelope sampled at 101 recall thresholds. (ultralytics'
`ap_per_class` integrates the same curve with a trapezoid that caps a perfect detector at 0.995,
so it is not used for the number.) Precision and recall are at the configured
confidence and NMS thresholds — the detector runs with them, so AP only integrates over
predictions above the confidence threshold (a lower `vision.conf_threshold` gives the full curve).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from citybrain.replay.errors import LabelError
from citybrain.replay.labels import LabelledImage
from citybrain.vision.detections import Detections

IOU = 0.5
DetectFn = Callable[[list[np.ndarray]], list[Detections]]
ScoreFn = Callable[[list[np.ndarray]], list[dict[str, float]]]


@dataclass(frozen=True)
class ClassScore:
    name: str
    images: int
    instances: int
    predictions: int
    true_positives: int
    precision: float
    recall: float
    ap50: float


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) -> (N, M) IoU, via ultralytics' implementation."""
    import torch
    from ultralytics.utils.metrics import box_iou as _iou

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    return _iou(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()


def match(truth: LabelledImage, pred: Detections) -> np.ndarray:
    """One bool per prediction (in the given order): true positive at IoU >= 0.5."""
    order = np.argsort(-pred.confidence, kind="stable")
    iou = box_iou(truth.boxes, pred.xyxyn)  # (labels, predictions)
    claimed = np.zeros(len(truth.classes), bool)
    tp = np.zeros(len(pred), bool)
    for j in order:
        best, best_iou = -1, IOU
        for i, cls in enumerate(truth.classes):
            if not claimed[i] and cls == pred.class_names[j] and iou[i, j] >= best_iou:
                best, best_iou = i, iou[i, j]
        if best >= 0:
            claimed[best] = True
            tp[j] = True
    return tp


def coco_ap(tp: np.ndarray, conf: np.ndarray, n_truth: int) -> float:
    """Average precision at one IoU threshold, 101 recall points (pycocotools' COCOeval)."""
    if n_truth == 0 or len(tp) == 0:
        return 0.0
    order = np.argsort(-conf, kind="mergesort")
    tpc = np.cumsum(tp[order])
    fpc = np.cumsum(~tp[order])
    recall = tpc / n_truth
    precision = tpc / (tpc + fpc)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(
        np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0).mean()
    )


def load_image(path: Any) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise LabelError(f"{path}: not a readable image")
    return img


def evaluate_detections(
    data: Sequence[LabelledImage],
    detect: DetectFn,
    classes: Sequence[str],
    batch: int = 16,
    categories_of: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Run `detect` over `data` in batches; per-class and overall scores plus frames/s (decode
    excluded: it measures the detector as the vision pipeline calls it). `categories_of` names
    the taxonomy categories each detector class is evidence for, shown beside its scores."""
    unknown = sorted({c for d in data for c in d.classes} - set(classes))
    if unknown:
        raise LabelError(f"labels name classes the detector lacks: {', '.join(unknown)}")
    index = {c: i for i, c in enumerate(classes)}
    tps, confs, pcls, tcls = [], [], [], []
    images_with: dict[str, int] = dict.fromkeys(classes, 0)
    spent = 0.0
    for start in range(0, len(data), batch):
        chunk = data[start : start + batch]
        imgs = [load_image(d.path) for d in chunk]
        t0 = time.perf_counter()
        preds = detect(imgs)
        spent += time.perf_counter() - t0
        for d, p in zip(chunk, preds, strict=True):
            tps.append(match(d, p))
            confs.append(p.confidence.astype(np.float64))
            pcls.append(np.array([index.get(c, -1) for c in p.class_names], np.int64))
            tcls.append(np.array([index[c] for c in d.classes], np.int64))
            for c in set(d.classes):
                images_with[c] += 1
    tp = np.concatenate(tps) if tps else np.zeros(0, bool)
    conf = np.concatenate(confs) if confs else np.zeros(0)
    pred_cls = np.concatenate(pcls) if pcls else np.zeros(0, np.int64)
    target_cls = np.concatenate(tcls) if tcls else np.zeros(0, np.int64)
    ap = {
        i: coco_ap(tp[pred_cls == i], conf[pred_cls == i], int((target_cls == i).sum()))
        for i in index.values()
    }
    rows = []
    for c, i in index.items():
        n_t = int((target_cls == i).sum())
        n_p = int((pred_cls == i).sum())
        n_tp = int(tp[pred_cls == i].sum())
        if not (n_t or n_p):
            continue
        rows.append(
            ClassScore(
                c,
                images_with[c],
                n_t,
                n_p,
                n_tp,
                round(n_tp / n_p, 4) if n_p else 0.0,
                round(n_tp / n_t, 4) if n_t else 0.0,
                round(ap.get(i, 0.0), 4),
            )
        )
    n_t, n_p, n_tp = len(target_cls), len(pred_cls), int(tp.sum())
    labelled = [r for r in rows if r.instances]
    return {
        "images": len(data),
        "classes": [
            {**r.__dict__, "categories": (categories_of or {}).get(r.name, [])} for r in rows
        ],
        "all": {
            "instances": n_t,
            "predictions": n_p,
            "true_positives": n_tp,
            "precision": round(n_tp / n_p, 4) if n_p else 0.0,
            "recall": round(n_tp / n_t, 4) if n_t else 0.0,
            "map50": round(sum(r.ap50 for r in labelled) / len(labelled), 4) if labelled else 0.0,
        },
        "frames_per_s": round(len(data) / spent, 2) if spent > 0 else None,
    }


def evaluate_scenes(
    data: Sequence[tuple[Any, str]], scores: ScoreFn, categories: Sequence[str], batch: int = 16
) -> dict[str, Any]:
    """Zero-shot scene categories against image-level labels: top-1 accuracy, per-category
    precision and recall, frames/s. `scores(images)` gives one {category: score} per image."""
    predicted: list[str] = []
    spent = 0.0
    for start in range(0, len(data), batch):
        chunk = data[start : start + batch]
        imgs = [load_image(p) for p, _ in chunk]
        t0 = time.perf_counter()
        out = scores(imgs)
        spent += time.perf_counter() - t0
        for s in out:
            predicted.append(max(sorted(s), key=lambda k: s[k]) if s else "")
    truth = [c for _, c in data]
    rows = []
    for c in categories:
        n_t = sum(t == c for t in truth)
        n_p = sum(p == c for p in predicted)
        hit = sum(t == p == c for t, p in zip(truth, predicted, strict=True))
        if n_t or n_p:
            rows.append(
                {
                    "name": c,
                    "images": n_t,
                    "predicted": n_p,
                    "precision": round(hit / n_p, 4) if n_p else 0.0,
                    "recall": round(hit / n_t, 4) if n_t else 0.0,
                }
            )
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "images": len(data),
        "categories": rows,
        "accuracy": round(correct / len(data), 4) if data else 0.0,
        "frames_per_s": round(len(data) / spent, 2) if spent > 0 else None,
    }
