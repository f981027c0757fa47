"""JPEG bytes of one batch → the detector's input batch and where each frame landed.

The CPU path (default, what CI runs) decodes with OpenCV and letterboxes with the numba kernel
into a reused batch buffer. The GPU path decodes with nvJPEG (torchvision) and letterboxes with
torch ops on the device; it is chosen only when asked for and CUDA is really there, and falls
back to the CPU path with the reason logged otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numba
import numpy as np

from citybrain.config.vision import VisionSettings
from citybrain.errors import RejectedRecord
from citybrain.vision.decode import check_jpeg, decode_frame, exif_orientation
from citybrain.vision.preprocess import (
    PAD_VALUE,
    Letterbox,
    letterbox_params,
    make_buffer,
    preprocess_clip,
    preprocess_yolo,
)

CLIP_SIZE = 224  # the `clip_image` contract (citybrain/vision/backends/base.py)

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """`images` rows 0..len(letterboxes)-1 hold the accepted frames, in the order of `kept`
    (indices into the input list); `rejected` pairs the other indices with their reason."""

    images: object  # np.ndarray on the CPU path, a torch.Tensor on the device path
    letterboxes: list[Letterbox] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    rejected: list[tuple[int, RejectedRecord]] = field(default_factory=list)
    grey: int = 0
    clip_images: np.ndarray | None = None  # CLIP input rows, same order, when scene scores are on


class FramePreparer(Protocol):
    device: str

    def prepare(self, jpegs: list[bytes]) -> Prepared: ...


def frame_limits(settings: VisionSettings) -> tuple[int, int]:
    return settings.max_frame_pixels, settings.max_progressive_pixels


class CpuPreparer:
    device = "cpu"

    def __init__(self, settings: VisionSettings, clip: bool = False) -> None:
        self.settings = settings
        self.clip = clip  # also write the CLIP input (the scene head is on)
        self._buffer = make_buffer(settings.batch_size, settings.imgsz, settings.buffer_dtype)
        # Compile (or load from numba's cache) now, not inside the first poll: a first batch
        # that takes longer than max.poll.interval gets the worker thrown out of its group.
        preprocess_yolo([np.zeros((2, 2, 3), np.uint8)], self._buffer[:1])

    def prepare(self, jpegs: list[bytes]) -> Prepared:
        out = Prepared(images=None)
        frames = []
        for i, data in enumerate(jpegs):
            try:
                img = decode_frame(data, *frame_limits(self.settings))
            except RejectedRecord as err:
                out.rejected.append((i, err))
                continue
            out.grey += img.ndim == 2
            frames.append(img)
            out.kept.append(i)
        if len(frames) > self._buffer.shape[0]:
            self._buffer = make_buffer(len(frames), self.settings.imgsz, self.settings.buffer_dtype)
        view = self._buffer[: len(frames)]
        cores = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        numba.set_num_threads(min(self.settings.preprocess_threads or cores, cores))
        out.letterboxes = preprocess_yolo(frames, view)
        out.images = view
        if self.clip:
            # The whole frame resized (no crop): events sit at the frame's edges.
            out.clip_images = np.empty((len(frames), 3, CLIP_SIZE, CLIP_SIZE), np.float32)
            preprocess_clip(frames, out.clip_images, mode="resize")
        return out


class CudaPreparer:
    """nvJPEG decode of the whole batch, then per-frame bilinear resize into a device buffer.
    Frames nvJPEG refuses go through the CPU decoder: decoded there if OpenCV can (counted in
    `cpu_fallbacks`), else rejected with the CPU decoder's precise reason."""

    device = "cuda"

    def __init__(self, settings: VisionSettings) -> None:
        import torch

        self.settings = settings
        self.torch = torch
        self.dtype = torch.float16 if settings.buffer_dtype == "float16" else torch.float32
        self.cpu_fallbacks = 0

    def _cpu_decode(self, data: bytes) -> object:
        """OpenCV's decode of a frame nvJPEG refused, as the RGB [3, H, W] device tensor
        nvJPEG would have made; RejectedRecord when OpenCV cannot decode it either."""
        img = decode_frame(data, *frame_limits(self.settings))
        rgb = (
            cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
            if img.ndim == 2
            else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        )
        return self.torch.from_numpy(rgb).permute(2, 0, 1).contiguous().to("cuda")

    def prepare(self, jpegs: list[bytes]) -> Prepared:
        torch = self.torch
        from torchvision.io import ImageReadMode, decode_jpeg

        out = Prepared(images=None)
        datas, idx, turned = [], [], []
        for i, data in enumerate(jpegs):
            try:
                check_jpeg(data, *frame_limits(self.settings))
            except RejectedRecord as err:
                out.rejected.append((i, err))
                continue
            if exif_orientation(data) != 1:  # nvJPEG ignores it: the one decoder applies it
                turned.append(i)
                continue
            datas.append(torch.frombuffer(bytearray(data), dtype=torch.uint8))
            idx.append(i)
        try:
            decoded = decode_jpeg(datas, mode=ImageReadMode.RGB, device="cuda") if datas else []
        except RuntimeError:  # one bad frame fails the batch call: decode one by one
            decoded = []
            for i, d in zip(list(idx), datas, strict=True):
                try:
                    decoded.append(decode_jpeg(d, mode=ImageReadMode.RGB, device="cuda"))
                except RuntimeError:
                    try:
                        decoded.append(self._cpu_decode(jpegs[i]))
                        self.cpu_fallbacks += 1
                    except RejectedRecord as err:
                        idx.remove(i)
                        out.rejected.append((i, err))
        if turned:
            by_index = dict(zip(idx, decoded, strict=True))
            for i in turned:
                try:
                    by_index[i] = self._cpu_decode(jpegs[i])
                except RejectedRecord as err:
                    out.rejected.append((i, err))
            idx = sorted(by_index)
            decoded = [by_index[i] for i in idx]
        s = self.settings.imgsz
        batch = torch.full(
            (len(decoded), 3, s, s), PAD_VALUE / 255.0, dtype=self.dtype, device="cuda"
        )
        for row, img in enumerate(decoded):
            h, w = int(img.shape[1]), int(img.shape[2])
            rw, rh, left, top = letterbox_params(h, w, s)
            x = img.unsqueeze(0).float()
            if (rw, rh) != (w, h):
                x = torch.nn.functional.interpolate(
                    x, size=(rh, rw), mode="bilinear", align_corners=False, antialias=False
                )
            batch[row, :, top : top + rh, left : left + rw] = (x[0].round() / 255.0).to(self.dtype)
            out.letterboxes.append(Letterbox(w, h, rw / w, rh / h, left, top))
        out.kept = idx
        out.images = batch
        return out


def select_preparer(settings: VisionSettings, clip: bool = False) -> FramePreparer:
    """The configured path, or the CPU path with the reason logged when the GPU cannot serve.
    `clip`: also prepare the CLIP input (the CPU path; the GPU path has no CLIP resize yet, so
    scene scores are then off and say so)."""
    if settings.preprocess_device == "cuda":
        reason = _cuda_unavailable()
        if reason is None:
            if clip:
                log.warning("GPU preprocessing makes no CLIP input yet: no scene scores")
            return CudaPreparer(settings)
        log.warning("GPU preprocessing requested but %s: using the CPU (numba) path", reason)
    return CpuPreparer(settings, clip=clip)


def _cuda_unavailable() -> str | None:
    try:
        import torch
        import torchvision.io  # noqa: F401
    except ImportError as e:
        return f"torch/torchvision cannot be imported ({e})"
    if not torch.cuda.is_available():
        return "CUDA is not available"
    return None


def as_numpy(images: object) -> np.ndarray:
    """A served backend needs host memory; the local backend takes device tensors as they are."""
    if isinstance(images, np.ndarray):
        return images
    return images.float().cpu().numpy()  # type: ignore[attr-defined]
