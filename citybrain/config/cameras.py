"""The camera gateway: real streams (RTSP, HTTP MJPEG/HLS, files) in, JPEG frames out.

Per-camera stream, credentials name and overrides live with the camera in cameras.yaml; the
defaults and every health threshold live here.
"""

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MotionGateSettings(BaseModel):
    """Which sampled frames go to the detector: those showing something new that stays."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Gate frames by scene change (off: every sample is sent)")
    pixel_threshold: float = Field(
        18.0, gt=0, le=255, title="Grey levels a thumbnail cell must differ by to count as changed"
    )
    min_blob_cells: int = Field(
        6,
        ge=1,
        title="Connected thumbnail cells (80 across) of new content that stays for a frame to "
        "be sent",
    )
    hold_samples: int = Field(
        4,
        ge=1,
        le=20,
        title="Samples in a row a cell must differ from the background: passing traffic does not",
    )
    heartbeat_s: float = Field(
        60.0, gt=0, title="A frame is sent at least this often, so rules and snapshots stay fresh"
    )
    warmup_frames: int = Field(
        15, ge=1, le=50, title="Frames sent while the gate learns the empty scene (their median)"
    )
    background_s: float = Field(
        60.0, gt=0, title="Time constant of the background where nothing is in front of it"
    )
    absorb_s: float = Field(
        1800.0, gt=0, title="Time constant at which something that stays becomes background"
    )
    global_change: float = Field(
        0.6,
        gt=0,
        le=1,
        title="Share changed at once above which the whole view changed: the background restarts",
    )


class CameraHealthSettings(BaseModel):
    """When a camera counts as offline, frozen, covered, too dark or blurred."""

    model_config = ConfigDict(extra="forbid")

    offline_after_s: float = Field(15.0, gt=0, title="No frame for this long: offline")
    frozen_s: float = Field(20.0, gt=0, title="The same picture for this long: frozen")
    frozen_max_diff: float = Field(
        0.4, ge=0, title="Mean grey-level difference between samples below which they are the same"
    )
    covered_similarity: float = Field(
        0.5,
        ge=-1,
        le=1,
        title="Correlation with the camera's usual view below which it is covered or turned away",
    )
    covered_s: float = Field(5.0, gt=0, title="The view must stay changed this long: covered")
    dark_luma: float = Field(20.0, ge=0, le=255, title="Mean grey level below which it is dark")
    dark_s: float = Field(10.0, gt=0, title="Dark for this long: too dark")
    blur_ratio: float = Field(
        0.3,
        gt=0,
        lt=1,
        title="Sharpness below this share of the camera's usual sharpness counts as blurred",
    )
    blur_s: float = Field(10.0, gt=0, title="Blurred for this long: out of focus")
    reference_s: float = Field(
        600.0, gt=0, title="Time constant of the usual view and sharpness, learnt while healthy"
    )


class CameraGatewaySettings(BaseModel):
    """The `citybrain cameras` process: readers, sampling, encoding, reconnects, shards."""

    model_config = ConfigDict(extra="forbid")

    sample_fps: float = Field(
        1.0, gt=0, le=30, title="Frames per second sampled from a stream (per camera: sample_fps)"
    )
    jpeg_quality: int = Field(85, ge=30, le=100, title="JPEG quality of the frames produced")
    queue_size: int = Field(
        64, ge=1, title="Sampled frames waiting for the producer; the oldest is dropped when full"
    )
    open_timeout_s: float = Field(10.0, gt=0, title="Give up opening a stream after this long")
    read_timeout_s: float = Field(
        5.0, gt=0, title="A stream that gives no frame for this long is reopened"
    )
    retry_initial_s: float = Field(0.5, gt=0, title="First wait before reconnecting")
    retry_max_s: float = Field(8.0, gt=0, title="Longest wait between reconnects (back-off cap)")
    credentials_env_prefix: str = Field(
        "CITYBRAIN_CAMERA_",
        title="Environment prefix of stream credentials: <prefix><NAME>_USERNAME / _PASSWORD",
    )
    shard_index: int = Field(0, ge=0, title="This gateway's shard (cameras hashed by id)")
    shard_count: int = Field(1, ge=1, title="How many gateway shards share the city's cameras")
    stats_every_s: float = Field(1.0, gt=0, title="Counters written to the store this often")
    send_block_s: float = Field(
        0.5,
        gt=0,
        title="Longest a frame's send may wait for Kafka (away, or its buffer full) before it "
        "is counted as failed: the loop that serves every camera never waits longer",
    )
    motion: MotionGateSettings = Field(default_factory=MotionGateSettings, title="Motion gating")
    health: CameraHealthSettings = Field(
        default_factory=CameraHealthSettings, title="Camera health thresholds"
    )

    @model_validator(mode="after")
    def _shard_in_range(self) -> "CameraGatewaySettings":
        if self.shard_index >= self.shard_count:
            raise ValueError(
                f"shard_index {self.shard_index} must be below shard_count {self.shard_count}"
            )
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must not be below retry_initial_s")
        return self
