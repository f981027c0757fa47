"""The pen every painter draws with: OpenCV primitives mirrored onto a map of object ids, so
the boxes of what a frame shows follow from what was drawn last (occlusion is exact)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from citybrain.sim.render.geometry import Color

MIN_BOX_PX = 4  # boxes narrower or shorter than this many pixels are left out
MIN_VISIBLE = 0.5  # nor are objects with less than this share of their pixels still in view
MAX_OBJECTS = 255  # ids of the uint8 object map; 0 is scenery

Point = Sequence[int]


@dataclass(frozen=True)
class Box:
    """Where one object of a detector class was drawn: normalised (0..1) frame coordinates."""

    cls: str
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def cx(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def cy(self) -> float:
        return (self.y1 + self.y2) / 2

    @property
    def w(self) -> float:
        return self.x2 - self.x1

    @property
    def h(self) -> float:
        return self.y2 - self.y1


@dataclass
class _Drawn:
    cls: str
    id: int
    roi: tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive), clipped to the frame
    pixels: int  # how many pixels it covered when drawn


class Pen:
    """Draws on a frame and, when annotating, the same shapes on a map of object ids.

    Whatever is drawn later overwrites the ids under it, so at the end the map says which
    object each pixel shows; an object's box is the extent of the pixels still showing it.
    Drawing outside `obj` (scenery, halos) marks nothing.
    """

    def __init__(self, img: np.ndarray, annotate: bool = False) -> None:
        self.img = img
        self.h, self.w = img.shape[:2]
        self.ids: np.ndarray | None = np.zeros((self.h, self.w), np.uint8) if annotate else None
        self.mark_rows: int | None = None  # while set, marks only rows above it
        self._drawn: list[_Drawn] = []
        self._cur = 0
        self._roi = [0, 0, 0, 0]
        self._scratch: np.ndarray | None = None  # marks of a translucent object

    @contextmanager
    def obj(self, cls: str, translucent: bool = False) -> Iterator[None]:
        """Everything drawn inside is one object of detector class `cls`.

        A translucent object (water, smoke) hides nothing: what shows through it keeps its
        pixels, and it claims only those that showed bare scenery.
        """
        if self.ids is None or len(self._drawn) >= MAX_OBJECTS:
            yield
            return
        self._cur = len(self._drawn) + 1
        self._roi = [self.w, self.h, 0, 0]
        self._scratch = np.zeros_like(self.ids) if translucent else None
        try:
            yield
        finally:
            x1, y1 = max(0, self._roi[0]), max(0, self._roi[1])
            x2, y2 = min(self.w, self._roi[2]), min(self.h, self._roi[3])
            if x2 > x1 and y2 > y1:
                ids = self.ids[y1:y2, x1:x2]
                if self._scratch is not None:
                    ids[(self._scratch[y1:y2, x1:x2] != 0) & (ids == 0)] = self._cur
                n = int(np.count_nonzero(ids == self._cur))
                if n:
                    self._drawn.append(_Drawn(cls, self._cur, (x1, y1, x2, y2), n))
            self._cur = 0
            self._scratch = None

    def boxes(self) -> list[Box]:
        """One box per object still mostly in view and not tiny, in drawing order."""
        if self.ids is None:
            return []
        out: list[Box] = []
        for d in self._drawn:
            x1, y1, x2, y2 = d.roi
            mine = self.ids[y1:y2, x1:x2] == d.id
            seen = int(np.count_nonzero(mine))
            if seen == 0 or seen < MIN_VISIBLE * d.pixels:
                continue
            cols = np.flatnonzero(mine.any(axis=0))
            rows = np.flatnonzero(mine.any(axis=1))
            bx1, bx2 = x1 + int(cols[0]), x1 + int(cols[-1]) + 1
            by1, by2 = y1 + int(rows[0]), y1 + int(rows[-1]) + 1
            if bx2 - bx1 < MIN_BOX_PX or by2 - by1 < MIN_BOX_PX:
                continue
            out.append(Box(d.cls, bx1 / self.w, by1 / self.h, bx2 / self.w, by2 / self.h))
        return out

    # Each primitive draws on `on` (default the frame) exactly as cv2 would, then marks the
    # same shape (without anti-aliasing) on the id map when an object is being drawn.

    def _marking(self, mark: bool) -> np.ndarray | None:
        if not mark or self.ids is None or not self._cur:
            return None
        ids = self.ids if self._scratch is None else self._scratch
        return ids if self.mark_rows is None else ids[: max(0, self.mark_rows)]

    def _grow(self, x1: float, y1: float, x2: float, y2: float, pad: float) -> None:
        r = self._roi
        r[0] = min(r[0], math.floor(x1 - pad))
        r[1] = min(r[1], math.floor(y1 - pad))
        r[2] = max(r[2], math.ceil(x2 + pad) + 1)
        r[3] = max(r[3], math.ceil(y2 + pad) + 1)

    def fill_poly(
        self,
        pts: np.ndarray,
        color: Color,
        line_type: int = cv2.LINE_8,
        *,
        on: np.ndarray | None = None,
    ) -> None:
        cv2.fillPoly(self.img if on is None else on, [pts], color, line_type)
        ids = self._marking(True)
        if ids is not None:
            cv2.fillPoly(ids, [pts], self._cur)
            self._grow(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max(), 1)

    def rect(self, p1: Point, p2: Point, color: Color, thickness: int = -1) -> None:
        cv2.rectangle(self.img, p1, p2, color, thickness)
        ids = self._marking(True)
        if ids is not None:
            cv2.rectangle(ids, p1, p2, self._cur, thickness)
            xs, ys = (int(p1[0]), int(p2[0])), (int(p1[1]), int(p2[1]))
            self._grow(min(xs), min(ys), max(xs), max(ys), max(1, thickness) + 1)

    def line(
        self, p1: Point, p2: Point, color: Color, thickness: int, line_type: int = cv2.LINE_8
    ) -> None:
        cv2.line(self.img, p1, p2, color, thickness, line_type)
        ids = self._marking(True)
        if ids is not None:
            cv2.line(ids, p1, p2, self._cur, thickness)
            xs, ys = (int(p1[0]), int(p2[0])), (int(p1[1]), int(p2[1]))
            self._grow(min(xs), min(ys), max(xs), max(ys), thickness + 1)

    def circle(
        self,
        center: Point,
        radius: int,
        color: Color,
        thickness: int = -1,
        line_type: int = cv2.LINE_8,
        *,
        on: np.ndarray | None = None,
        mark: bool = True,
    ) -> None:
        cv2.circle(self.img if on is None else on, center, radius, color, thickness, line_type)
        ids = self._marking(mark)
        if ids is not None:
            cv2.circle(ids, center, radius, self._cur, thickness)
            x, y = int(center[0]), int(center[1])
            self._grow(x - radius, y - radius, x + radius, y + radius, max(1, thickness) + 1)

    def ellipse(self, center: Point, axes: tuple[int, int], color: Color) -> None:
        """A filled, upright ellipse."""
        cv2.ellipse(self.img, center, axes, 0, 0, 360, color, -1)
        ids = self._marking(True)
        if ids is not None:
            cv2.ellipse(ids, center, axes, 0, 0, 360, self._cur, -1)
            x, y = int(center[0]), int(center[1])
            self._grow(x - axes[0], y - axes[1], x + axes[0], y + axes[1], 1)


# --------------------------------------------------------------------------- static scene
