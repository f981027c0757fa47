"""A detector `.pt` that is a full pickle can run code as it loads. It used to be loaded that way
whenever torch's `weights_only` refused it; now it is refused unless `vision.trust_pickled_model`
says this deployment made it. The proof is a real pickle that leaves a mark when unpickled."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from citybrain.config.vision import VisionSettings
from citybrain.vision.detector import Detector, load_yolo
from citybrain.vision.errors import UntrustedModel

DEMO = Path("models/demo/citybrain-yolov5n-city.pt")


class _LeavesAMark:
    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.mark,))  # what any code run by unpickling could do


def test_a_pickle_that_weights_only_refuses_is_not_unpickled(tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    evil = tmp_path / "detector.pt"
    torch.save({"model": _LeavesAMark(mark)}, evil)
    with pytest.raises(UntrustedModel, match="trust_pickled_model"):
        load_yolo(evil, tmp_path / "ultralytics")
    assert not mark.exists()


def test_the_projects_own_checkpoint_loads_when_trusted(tmp_path: Path) -> None:
    with pytest.raises(UntrustedModel):
        Detector.load(VisionSettings(model=DEMO), tmp_path / "ultralytics")
    det = Detector.load(VisionSettings(model=DEMO, trust_pickled_model=True), tmp_path / "u")
    assert "person" in det.names.values()
