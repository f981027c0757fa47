"""Pipeline worker processes: what each one serves beside its stream loop."""

from pydantic import BaseModel, ConfigDict, Field


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        title="Serve this worker's own Prometheus /metrics on this port (0: off; the web "
        "server's /metrics shows every worker's counters from the store either way)",
    )
    metrics_host: str = Field(
        "127.0.0.1", title="Address the worker's metrics listen on (0.0.0.0 in a pod)"
    )
    outbox_lease_s: float = Field(
        30.0,
        gt=0,
        title="How long a worker holds the outbox messages it wrote or claimed before another "
        "worker of its job may send them (a dead worker's messages go out after this)",
    )
    dependency_retry_max_s: float = Field(
        10.0,
        gt=0,
        title="Longest wait between retries while the database is unavailable (consumption "
        "stays paused; the worker keeps polling and stays in its group)",
    )
    poison_retries: int = Field(
        3,
        ge=1,
        title="Tries a record gets when the stage raises on it (not a rejection, not the "
        "database); then it goes to the DLQ as `stage_error` and its partition moves on",
    )
    tick_every_s: float = Field(
        1.0,
        gt=0,
        title="Longest time between a job's ticks (idle expiry, hot-spot closing, digests) "
        "while records keep coming; a poll that finds nothing ticks at once",
    )
