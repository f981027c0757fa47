"""Vision pipeline: frame limits, model, batching."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TritonSettings(BaseModel):
    """Where the Triton server is and how hard to try before applying back-pressure."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None,
        title="gRPC address host:port of a running server (required with backend: triton)",
    )
    model_repository: Path = Field(
        Path("models/triton"), title="Model repository (written by `citybrain models export`)"
    )
    timeout_s: float = Field(5.0, gt=0, title="Deadline of one inference call, seconds")
    connect_timeout_s: float = Field(
        30.0, gt=0, title="How long a locally started server may take to become ready"
    )
    retries: int = Field(3, ge=0, title="Retries of a call that failed as unavailable or late")
    backoff_s: float = Field(0.1, ge=0, title="First back-off between retries (doubles each time)")
    backoff_max_s: float = Field(2.0, ge=0, title="Longest back-off between retries")
    retry_budget_s: float = Field(
        4.0,
        gt=0,
        title="Longest one call may take with all its retries and back-off; each attempt's "
        "deadline is cut to what is left. Must fit inside the consumer's poll interval "
        "(checked at load): after it the stage applies back-pressure and keeps polling",
    )
    shared_memory: bool = Field(
        True,
        title="Pass tensors through system shared memory (used only when the url is a loopback "
        "address: a server on another host gets them over gRPC)",
    )


class ClipSettings(BaseModel):
    """The CLIP model behind scene scores; prompts come from the taxonomy (`clip_prompts`)."""

    model_config = ConfigDict(extra="forbid")

    weights: Path = Field(
        Path("models/demo/citybrain-clip-tiny.pt"), title="CLIP checkpoint (citybrain format)"
    )
    scene_scores: bool = Field(
        True,
        title="Score every frame with the zero-shot scene head (feeds the camera rules' "
        "scene_threshold, e.g. flooding, smoke)",
    )
    background_prompts: tuple[str, ...] = Field(
        (
            "a street camera view of an ordinary street with traffic",
            "a normal street with nothing wrong",
        ),
        title="Prompts of the no-event class, so a calm street is not forced into a category",
    )


class VisionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Path = Field(
        Path("models/demo/citybrain-yolov5n-city.pt"),
        title="Detector: an ultralytics .pt weights file, original YOLOv5 weights as plain "
        "tensors (anchor head), or a model .yaml (untrained)",
    )
    trust_pickled_model: bool = Field(
        False,
        title="Load a detector .pt that is a full pickle (an ultralytics checkpoint: loading "
        "it can run code), for weights this deployment made itself; otherwise refused",
    )
    imgsz: int = Field(320, ge=32, title="Detector input size (square, letterboxed)")
    batch_size: int = Field(8, ge=1, title="Frames per inference batch")
    max_batch_delay_ms: int = Field(250, ge=0, title="Longest a partial batch waits")
    conf_threshold: float = Field(0.25, ge=0, le=1, title="Minimum detection confidence")
    iou_threshold: float = Field(0.45, ge=0, le=1, title="NMS IoU threshold")
    device: str = Field("cpu", title="torch device: cpu, cuda, cuda:0 ...")
    max_frame_bytes: int = Field(8 * 1024 * 1024, ge=1024, title="Larger frames are dead-lettered")
    max_frame_pixels: int = Field(
        7680 * 4320, ge=64, title="Decoded frames above this many pixels (8K UHD) are dead-lettered"
    )
    max_progressive_pixels: int = Field(
        3840 * 2160,
        ge=64,
        title="Progressive JPEGs above this many pixels (4K UHD) are dead-lettered: cameras "
        "stream baseline JPEG, and a progressive decode holds the whole image's coefficients",
    )

    # --- runtime: backend, batch buffers, batching, rate limits ---
    backend: Literal["local", "triton"] = Field(
        "local", title="Inference backend: in-process torch (local) or a Triton server"
    )
    buffer_dtype: Literal["float32", "float16"] = Field(
        "float32", title="Batch buffer element type the preprocessing writes"
    )
    preprocess_device: Literal["cpu", "cuda"] = Field(
        "cpu", title="Where frames are decoded and preprocessed (cuda: nvJPEG + torch ops)"
    )
    preprocess_threads: int = Field(
        1, ge=0, title="numba threads for CPU preprocessing (0: all cores; torch uses them too)"
    )
    max_queued_frames: int = Field(
        256, ge=1, title="Frames waiting for a batch before the stream pauses consumption"
    )
    camera_queue: int = Field(
        8, ge=1, title="Frames one camera may have waiting; beyond it its oldest is skipped"
    )
    rate_limit_factor: float = Field(
        1.5, ge=0, title="Admit up to this multiple of a camera's configured fps (0: no limit)"
    )
    rate_burst_s: float = Field(
        5.0, gt=0, title="Seconds of frames a camera may send at once before the limit applies"
    )
    warm_up_frames: int = Field(
        8,
        ge=0,
        title="Frames per camera a newly started job re-reads from before its commit point, "
        "emitting nothing, to rebuild the rules' windows, open events and tracks (0: off)",
    )
    retry_initial_ms: int = Field(200, ge=1, title="First wait after the backend is unavailable")
    retry_max_ms: int = Field(5000, ge=1, title="Longest wait between backend retries")

    # Triton backend and CLIP scene head.
    triton: TritonSettings = Field(
        default_factory=TritonSettings, title="Triton Inference Server backend"
    )
    clip: ClipSettings = Field(
        default_factory=ClipSettings, title="CLIP image tower and zero-shot scene head"
    )
