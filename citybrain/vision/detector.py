"""The object detector: an ultralytics YOLO model run on CPU or CUDA in batches."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from citybrain.config.vision import VisionSettings
from citybrain.vision.detections import Detections
from citybrain.vision.errors import UntrustedModel
from citybrain.vision.yolov5_anchor import anchor_model, read_anchor_checkpoint

if TYPE_CHECKING:
    from ultralytics import YOLO

log = logging.getLogger(__name__)


def prepare_ultralytics_offline(config_dir: Path) -> None:
    """Ultralytics reaches for the network (settings, fonts) unless told not to; never let it."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))
    font = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics" / "Arial.ttf"
    if not font.exists():
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        font.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, font)


class Detector:
    def __init__(self, model: object, names: dict[int, str], settings: VisionSettings) -> None:
        self.model = model
        self.names = names
        self.settings = settings

    @classmethod
    def load(cls, settings: VisionSettings, config_dir: Path = Path("var/ultralytics")) -> Detector:
        model, names = load_yolo(settings.model, config_dir, settings.trust_pickled_model)
        return cls(model, names, settings)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """BGR images in, one Detections per image; ultralytics letterboxes and runs NMS."""
        out: list[Detections] = []
        s = self.settings
        for i in range(0, len(images), s.batch_size):
            chunk = images[i : i + s.batch_size]
            results = self.model.predict(  # type: ignore[attr-defined]
                chunk,
                imgsz=s.imgsz,
                conf=s.conf_threshold,
                iou=s.iou_threshold,
                device=s.device,
                verbose=False,
                batch=len(chunk),
            )
            out += [Detections.from_ultralytics(r, self.names) for r in results]
        return out


def load_yolo(
    path: Path, config_dir: Path = Path("var/ultralytics"), trust_pickle: bool = False
) -> tuple[YOLO, dict[int, str]]:
    """An ultralytics YOLO from a .pt (trained ultralytics, or original YOLOv5 weights as plain
    tensors) or .yaml (untrained, seeded) file, offline, with its class names (a YAML's `names`
    list wins). An ultralytics .pt is a full pickle, which can run code as it loads: it is
    refused (UntrustedModel) unless `trust_pickle` (`vision.trust_pickled_model`) says the
    deployment made it; plain-tensor weights load with torch's `weights_only`."""
    prepare_ultralytics_offline(config_dir)
    import torch
    from ultralytics import YOLO

    if not path.exists():
        raise FileNotFoundError(f"detector model not found: {path}")
    torch.manual_seed(0)  # an untrained model built from YAML is the same in every worker
    anchor = read_anchor_checkpoint(path)
    if anchor is not None:  # original YOLOv5 weights: ultralytics' layers, anchor head
        net, names = anchor_model(anchor, path)
        model = YOLO("yolov5n.yaml", task="detect")  # a shell whose network is replaced
        model.model = net  # type: ignore[assignment]
        return model, names
    if path.suffix == ".pt" and not trust_pickle:
        raise UntrustedModel(
            f"{path} is a pickled checkpoint (loading it can run code) and "
            "vision.trust_pickled_model is off: set it for weights this deployment trained, "
            "or use plain-tensor weights or a Triton model repository"
        )
    model = YOLO(str(path), task="detect")
    names = {int(k): str(v) for k, v in model.names.items()}
    if path.suffix in (".yaml", ".yml"):
        declared = yaml.safe_load(path.read_text()).get("names")
        if declared:
            names = dict(enumerate(declared))
        log.warning("detector %s is untrained (built from YAML): detections are noise", path)
    return model, names
