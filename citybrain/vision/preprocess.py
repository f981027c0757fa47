"""Frames into model batch buffers with numba: resize, colour order, normalisation and layout in
one pass per output pixel, written in place into a preallocated [N, 3, S, S] buffer.

One kernel serves every geometry: a frame is resized to (rw, rh) and placed at (ox, oy) in the
S×S output (a negative offset crops). The YOLO letterbox pads around a frame scaled to fit, the
CLIP variants centre-crop the short side or squash the whole frame. Bilinear sampling follows
OpenCV's INTER_LINEAR (half-pixel centres, clamped borders) and the value is rounded to uint8
before normalising, exactly like the OpenCV + NumPy reference (`preprocess_ref`), so the only
difference is OpenCV's fixed-point rounding: at most 1/255 before normalisation. Normalisation
is a 256-entry table per channel, which also gives float16 output (numba has no CPU float16:
the table holds the half-precision bit patterns and the kernel writes a uint16 view).

Parallel over output rows of all frames at once (`prange`), so batch 1 uses every core too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba as nb
import numpy as np

PAD_VALUE = 114  # ultralytics' letterbox grey
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BufferDType = Literal["uint8", "float16", "float32"]
ClipMode = Literal["center_crop", "resize"]


@dataclass(frozen=True)
class Letterbox:
    """How one frame sits in the model input: scaled by (gain_x, gain_y), offset by the pads."""

    width: int
    height: int
    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Model-input pixel boxes (N, 4) → frame pixel boxes, clipped to the frame."""
        out = np.asarray(xyxy, np.float32).copy()
        out[:, [0, 2]] = ((out[:, [0, 2]] - self.pad_x) / self.gain_x).clip(0, self.width)
        out[:, [1, 3]] = ((out[:, [1, 3]] - self.pad_y) / self.gain_y).clip(0, self.height)
        return out


def letterbox_params(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """(resized w, resized h, left, top) with ultralytics' LetterBox rounding, term for term."""
    r = min(size / height, size / width)
    new_w, new_h = max(round(width * r), 1), max(round(height * r), 1)
    left, top = round((size - new_w) / 2 - 0.1), round((size - new_h) / 2 - 0.1)
    return new_w, new_h, left, top


def clip_params(height: int, width: int, size: int, mode: ClipMode) -> tuple[int, int, int, int]:
    """(resized w, resized h, x offset, y offset) for the CLIP input: torchvision's
    Resize(short side) + CenterCrop geometry, or a plain resize of the whole frame."""
    if mode == "resize":
        return size, size, 0, 0
    if width <= height:
        rw, rh = size, max(int(size * height / width), size)
    else:
        rw, rh = max(int(size * width / height), size), size
    return rw, rh, -round((rw - size) / 2.0), -round((rh - size) / 2.0)


def make_buffer(n: int, size: int, dtype: BufferDType = "float32") -> np.ndarray:
    return np.empty((n, 3, size, size), dtype=np.dtype(dtype))


def _tables(dtype: np.dtype, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Per channel (RGB), the stored value of each uint8 level; viewed as the kernel writes it."""
    levels = np.arange(256, dtype=np.float64)
    if dtype == np.uint8:
        return np.tile(levels.astype(np.uint8), (3, 1))
    table = np.stack([(levels / 255.0 - m) / s for m, s in zip(mean, std, strict=True)])
    if dtype == np.float16:
        return table.astype(np.float16).view(np.uint16)
    return table.astype(np.float32)


_TABLE_CACHE: dict[tuple[str, tuple[float, ...], tuple[float, ...]], np.ndarray] = {}


def _table(dtype: np.dtype, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    key = (dtype.str, mean, std)
    if key not in _TABLE_CACHE:
        _TABLE_CACHE[key] = _tables(dtype, mean, std)
    return _TABLE_CACHE[key]


def _kernel_view(out: np.ndarray) -> np.ndarray:
    if out.dtype == np.float16:
        return out.view(np.uint16)
    if out.dtype in (np.uint8, np.float32):
        return out
    raise TypeError(f"batch buffer dtype {out.dtype} is not uint8, float16 or float32")


@nb.njit(parallel=True, cache=True, nogil=True)
def _resample(frames, geom, out, table, pad):  # type: ignore[no-untyped-def]  # pragma: no cover
    """frames: typed list of (H, W, C) uint8, C = 1 or 3 (BGR); geom: (N, 4) int32 rw, rh, ox, oy;
    out: (N, 3, S, S) written in place; table: (3, 256) values per RGB channel.

    Weights are 11-bit fixed point, as in OpenCV's own uint8 path: a vertical pass blends the
    two source rows, a horizontal pass samples the blend. The hot loops index with
    unsigned integers only: numba then skips negative-index wrap-around, which halves its cost
    (mixing signed and unsigned would silently promote to float, so the types are spelled out)."""
    n = len(frames)
    size = out.shape[2]
    one = np.uint32(2048)
    x0s = np.empty((n, size), np.uint64)
    x1s = np.empty((n, size), np.uint64)
    wxs = np.empty((n, size), np.uint32)
    for i in nb.prange(n):
        h, w, c = frames[np.int64(i)].shape
        rw, ox = geom[i, 0], geom[i, 2]
        scale = np.float32(w / rw)
        for x in range(size):
            sx = (np.float32(x - ox) + np.float32(0.5)) * scale - np.float32(0.5)
            x0 = int(np.floor(sx))
            fx = sx - x0
            if x0 < 0:
                x0, fx = 0, 0.0
            if x0 >= w - 1:
                x0, fx = w - 1, 0.0
            x0s[i, x] = np.uint64(x0 * c)
            x1s[i, x] = np.uint64(min(x0 + 1, w - 1) * c)
            wxs[i, x] = np.uint32(fx * 2048 + 0.5)
    rnd = np.uint32(1 << 21)
    shift = np.uint32(22)
    u1 = np.uint64(1)
    u2 = np.uint64(2)
    for row in nb.prange(n * size):
        i = row // size
        y = row % size
        img = frames[np.int64(i)]
        h, w, c = img.shape
        rw, rh, ox, oy = geom[i, 0], geom[i, 1], geom[i, 2], geom[i, 3]
        o_r, o_g, o_b = out[i, 0, y], out[i, 1, y], out[i, 2, y]
        t_r, t_g, t_b = table[0], table[1], table[2]
        ry = y - oy
        if ry < 0 or ry >= rh:
            for x in range(size):
                o_r[x], o_g[x], o_b[x] = t_r[pad], t_g[pad], t_b[pad]
            continue
        sy = (np.float32(ry) + np.float32(0.5)) * np.float32(h / rh) - np.float32(0.5)
        y0 = int(np.floor(sy))
        fy = sy - y0
        if y0 < 0:
            y0, fy = 0, 0.0
        if y0 >= h - 1:
            y0, fy = h - 1, 0.0
        wy1 = np.uint32(fy * 2048 + 0.5)
        wy0 = one - wy1
        r0 = img[y0].ravel()
        r1 = img[min(y0 + 1, h - 1)].ravel()
        # vertical pass over the whole row pair: contiguous, so LLVM vectorises it
        span = w * c
        rows = np.empty(span, np.uint32)
        for j in range(span):
            rows[j] = np.uint32(r0[j]) * wy0 + np.uint32(r1[j]) * wy1
        xs0, xs1, ws = x0s[i], x1s[i], wxs[i]
        x_lo = max(ox, 0)
        x_hi = min(ox + rw, size)
        for x in range(size):
            if x < x_lo or x >= x_hi:
                o_r[x], o_g[x], o_b[x] = t_r[pad], t_g[pad], t_b[pad]
        for x in range(x_lo, x_hi):
            xa = xs0[x]
            xb = xs1[x]
            wx1 = ws[x]
            wx0 = one - wx1
            if c == 1:
                v = np.uint64((rows[xa] * wx0 + rows[xb] * wx1 + rnd) >> shift)
                o_r[x], o_g[x], o_b[x] = t_r[v], t_g[v], t_b[v]
                continue
            # BGR in, RGB out
            o_r[x] = t_r[np.uint64((rows[xa + u2] * wx0 + rows[xb + u2] * wx1 + rnd) >> shift)]
            o_g[x] = t_g[np.uint64((rows[xa + u1] * wx0 + rows[xb + u1] * wx1 + rnd) >> shift)]
            o_b[x] = t_b[np.uint64((rows[xa] * wx0 + rows[xb] * wx1 + rnd) >> shift)]


def _as_hwc(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3) or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame shape {frame.shape} is not (H, W), (H, W, 1) or (H, W, 3)")
    return np.ascontiguousarray(frame)


def _run(
    frames: list[np.ndarray],
    geom: list[tuple[int, int, int, int]],
    out: np.ndarray,
    offset: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> None:
    if out.ndim != 4 or out.shape[1] != 3 or out.shape[2] != out.shape[3]:
        raise ValueError(f"batch buffer shape {out.shape} is not (N, 3, S, S)")
    if offset < 0 or offset + len(frames) > out.shape[0]:
        raise ValueError(f"{len(frames)} frames at {offset} do not fit a batch of {out.shape[0]}")
    if not frames:
        return
    typed = nb.typed.List([_as_hwc(f) for f in frames])
    view = _kernel_view(out)[offset : offset + len(frames)]
    table = _table(out.dtype, mean, std)
    _resample(typed, np.asarray(geom, np.int32).reshape(-1, 4), view, table, PAD_VALUE)


def preprocess_yolo(frames: list[np.ndarray], out: np.ndarray, offset: int = 0) -> list[Letterbox]:
    """Letterbox BGR (or grey) uint8 frames into out[offset:offset+len(frames)]: RGB, CHW;
    0..255 for a uint8 buffer, 0..1 for float. Returns where each frame landed."""
    size = out.shape[-1]
    geom = [letterbox_params(f.shape[0], f.shape[1], size) for f in frames]
    _run(frames, geom, out, offset, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    return [
        Letterbox(f.shape[1], f.shape[0], rw / f.shape[1], rh / f.shape[0], ox, oy)
        for f, (rw, rh, ox, oy) in zip(frames, geom, strict=True)
    ]


def preprocess_clip(
    frames: list[np.ndarray], out: np.ndarray, mode: ClipMode = "center_crop", offset: int = 0
) -> None:
    """CLIP image input: short-side resize + centre crop (or a full-frame resize) to the buffer's
    size, RGB, normalised with CLIP's mean and std (a float buffer)."""
    if out.dtype == np.uint8:
        raise TypeError("CLIP input is normalised: use a float16 or float32 buffer")
    size = out.shape[-1]
    geom = [clip_params(f.shape[0], f.shape[1], size, mode) for f in frames]
    _run(frames, geom, out, offset, CLIP_MEAN, CLIP_STD)
