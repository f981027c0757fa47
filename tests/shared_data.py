"""Real data and weights from ../shared (beside the repository), for the few tests that use it.

A user's fresh clone has no shared/: those tests skip with the reason, never fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"
COCO_YOLOV5N = SHARED / "weights" / "yolov5n-coco.pt"


def require(path: Path) -> Path:
    """`path` under ../shared, or skip the calling test saying what is missing."""
    if not path.exists():
        pytest.skip(f"{path} is absent: real data lives in ../shared beside the repository")
    return path
