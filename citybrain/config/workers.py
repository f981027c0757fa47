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
