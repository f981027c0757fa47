"""The OpenCV + NumPy way to fill the same batch buffers: the correctness reference for the numba
kernels and the baseline their benchmark is measured against. Kept deliberately plain: this is
what ultralytics' letterbox and a NumPy normalisation do frame by frame."""

from __future__ import annotations

import cv2
import numpy as np

from citybrain.vision.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    PAD_VALUE,
    ClipMode,
    clip_params,
    letterbox_params,
)


def _bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    return frame


def _to_chw(img: np.ndarray, out: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    chw = img[..., ::-1].transpose(2, 0, 1)  # BGR HWC → RGB CHW
    if out.dtype == np.uint8:
        out[...] = chw
    else:  # one pass for the scale (with the cast), one for the shift
        np.multiply(chw, (1.0 / (255.0 * std)).astype(out.dtype), out=out, casting="unsafe")
        if mean.any():
            out -= (mean / std).astype(out.dtype)


def letterbox_ref(frames: list[np.ndarray], out: np.ndarray, offset: int = 0) -> None:
    size = out.shape[-1]
    zero, one = np.zeros((3, 1, 1), np.float32), np.ones((3, 1, 1), np.float32)
    for i, frame in enumerate(frames):
        img = _bgr(frame)
        rw, rh, left, top = letterbox_params(img.shape[0], img.shape[1], size)
        if (rw, rh) != (img.shape[1], img.shape[0]):
            img = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        img = cv2.copyMakeBorder(
            img,
            top,
            size - rh - top,
            left,
            size - rw - left,
            cv2.BORDER_CONSTANT,
            value=(PAD_VALUE,) * 3,
        )
        _to_chw(img, out[offset + i], zero, one)


def clip_ref(
    frames: list[np.ndarray], out: np.ndarray, mode: ClipMode = "center_crop", offset: int = 0
) -> None:
    size = out.shape[-1]
    mean = np.array(CLIP_MEAN, np.float32).reshape(3, 1, 1)
    std = np.array(CLIP_STD, np.float32).reshape(3, 1, 1)
    for i, frame in enumerate(frames):
        img = _bgr(frame)
        rw, rh, ox, oy = clip_params(img.shape[0], img.shape[1], size, mode)
        if (rw, rh) != (img.shape[1], img.shape[0]):
            img = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        img = img[-oy : -oy + size, -ox : -ox + size]
        _to_chw(img, out[offset + i], mean, std)
