"""People and number plates made unrecognisable in every frame the web shows.

The rule, the same for every view and mode:
- a box of a person class is hidden whole, grown by `PERSON_MARGIN` of its size on each side
  (detector boxes are tight: an arm or a face at the edge must not survive);
- a box of a vehicle class has its lower `PLATE_SHARE` hidden: seen from a street camera, a
  plate sits in the lower half of the vehicle's box, front or back, so the vehicle stays
  visible as evidence (a parked car in a bus lane) while its plate is not readable.

Hiding is a mosaic of at most `BLOCKS` cells along the region's longer side, smoothed: a
Gaussian blur of a fixed kernel leaves a big close-up face readable, and a fine mosaic leaves
a small figure's outline, which a detector still finds; this leaves neither. The background
of a snapshot (`web.snapshot_blur: background`) is a mosaic too, of `BACKGROUND_BLOCKS` cells
along the frame's longer side: a face close enough to fill a tenth of the frame keeps 4 cells.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

PERSON_MARGIN = 0.1
PLATE_SHARE = 0.5
BLOCKS = 6
BACKGROUND_BLOCKS = 40

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 normalised to the frame


def hide(img: np.ndarray, x1: int, y1: int, x2: int, y2: int, blocks: int = BLOCKS) -> None:
    """Replace the region in place by a smoothed mosaic of itself (`blocks` cells along its
    longer side)."""
    region = img[y1:y2, x1:x2]
    h, w = region.shape[:2]
    if h < 2 or w < 2:
        return
    cell = max(2, max(h, w) // blocks)
    small = cv2.resize(region, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    img[y1:y2, x1:x2] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def private_regions(
    boxes: Iterable[tuple[str, Box]],
    width: int,
    height: int,
    person_classes: Iterable[str],
    plate_classes: Iterable[str],
) -> list[tuple[int, int, int, int]]:
    """Pixel regions to hide for the given (class, box) pairs, by the rule above."""
    people, vehicles = set(person_classes), set(plate_classes)
    out = []
    for cls, (x1, y1, x2, y2) in boxes:
        if cls in people:
            mx, my = (x2 - x1) * PERSON_MARGIN, (y2 - y1) * PERSON_MARGIN
            x1, y1, x2, y2 = x1 - mx, y1 - my, x2 + mx, y2 + my
        elif cls in vehicles:
            y1 = y2 - (y2 - y1) * PLATE_SHARE
        else:
            continue
        px = (
            max(0, int(x1 * width)),
            max(0, int(y1 * height)),
            min(width, int(np.ceil(x2 * width))),
            min(height, int(np.ceil(y2 * height))),
        )
        if px[2] > px[0] and px[3] > px[1]:
            out.append(px)
    return out


def hide_private(
    img: np.ndarray,
    boxes: Iterable[tuple[str, Box]],
    person_classes: Iterable[str],
    plate_classes: Iterable[str],
) -> np.ndarray:
    """The frame with people and plates hidden (in place; also returned)."""
    h, w = img.shape[:2]
    for region in private_regions(boxes, w, h, person_classes, plate_classes):
        hide(img, *region)
    return img
