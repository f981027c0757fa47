"""Vision pipeline: frame limits, model, batching."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class VisionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Path = Field(
        Path("models/demo/citybrain-yolov8n.yaml"),
        title="Detector: an ultralytics .pt weights file or a model .yaml (untrained)",
    )
    imgsz: int = Field(320, ge=32, title="Detector input size (square, letterboxed)")
    batch_size: int = Field(8, ge=1, title="Frames per inference batch")
    max_batch_delay_ms: int = Field(250, ge=0, title="Longest a partial batch waits")
    conf_threshold: float = Field(0.25, ge=0, le=1, title="Minimum detection confidence")
    iou_threshold: float = Field(0.45, ge=0, le=1, title="NMS IoU threshold")
    device: str = Field("cpu", title="torch device: cpu, cuda, cuda:0 ...")
    max_frame_bytes: int = Field(8 * 1024 * 1024, ge=1024, title="Larger frames are dead-lettered")
    max_frame_pixels: int = Field(
        4096 * 4096, ge=64, title="Decoded frames above this many pixels are dead-lettered"
    )
